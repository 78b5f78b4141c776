# vlad as a ROS 2 node in a container, two targets:
#
#   x86    x86-64 with ROS 2 Humble (ros:humble-ros-base) and Node 20; onnxruntime-node's prebuilt
#          linux-x64 binding with its CUDA 12 EP binaries fetched at install (hw-profile x86-cuda;
#          the project's .npmrc skips that download for CPU machines, the build overrides it).
#            docker build --target x86 -t vlad:x86 .
#            docker run --gpus all --network host -v /data/vlad:/data vlad:x86
#   jetson Jetson (JetPack 6 / L4T r36.4+, Orin) with onnxruntime-node built from source with CUDA +
#          TensorRT (there is no prebuilt linux-arm64 GPU binding). The default target.
#            docker build -t vlad:jp6 .
#            docker run --runtime nvidia --network host -v /data/vlad:/data \
#              --cap-add SYS_NICE --ulimit rtprio=99 --device /dev/cpu_dma_latency vlad:jp6 \
#              ros2 launch /opt/vlad/launch/vlad.launch.py hw_profile:=jetson-agx-orin
#
# Neither image is built in CI (no Docker engine there, no Jetson). What CI does run is what both
# targets run after the base image: `npm ci` (whose `prepare` compiles TypeScript, so tsconfig.json
# and the sources are copied first), `npm run build` and `vlad bundle verify` on the shipped model
# (test/cli/dockerfile.test.ts checks that these are the commands the Dockerfile runs, in that
# order). rclnodejs builds its bindings at install, so ROS is sourced in the same RUN as npm ci.
# Steps that could not be tried here are marked UNVERIFIED.
#
# SYS_NICE + rtprio let the control thread take SCHED_FIFO (src/core/priority.ts); the device lets
# the hw-profile's realtime.cpu_dma_latency_us hold PM QoS (src/core/cpu-wake.ts). Without them
# both are skipped and reported, and the loop runs at normal priority.
#
# Thor (JetPack 7, r38, CUDA 13): JETSON_BASE=<a jazzy image on r38>, CUDA_ARCH=110, ROS_DISTRO=jazzy.

ARG X86_BASE=ros:humble-ros-base
ARG JETSON_BASE=dustynv/ros:humble-desktop-l4t-r36.4.0

# ---------------------------------------------------------------------------------------------
FROM ${X86_BASE} AS x86
ARG ROS_DISTRO=humble
ARG NODE_MAJOR=20
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && mkdir -p /etc/apt/keyrings \
 && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
 && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" > /etc/apt/sources.list.d/nodesource.list \
 && apt-get update && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vlad
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
COPY test ./test
# --onnxruntime-node-install=cuda12 overrides .npmrc's skip: the CUDA 12 EP binaries (UNVERIFIED:
# they also need the CUDA 12 / cuDNN 9 runtime libraries of the host's driver, via --gpus).
RUN bash -c "source /opt/ros/${ROS_DISTRO}/setup.bash \
 && npm ci --no-audit --no-fund --onnxruntime-node-install=cuda12 \
 && node -e \"require('rclnodejs')\""
COPY . .
RUN npm run build \
 && node dist/src/cli/main.js bundle verify models/bundles/vlad-base-flow
RUN mkdir -p /var/cache/vlad/trt /data
ENV VLAD_DATA=/data
ENTRYPOINT ["/ros_entrypoint.sh"]
CMD ["bash", "-c", "ros2 launch /opt/vlad/launch/vlad.launch.py hw_profile:=x86-cuda"]

# ---------------------------------------------------------------------------------------------
# r36.4+ hosts run only r36.4+ containers (jetson-containers l4t_version_compatible).
FROM ${JETSON_BASE} AS jetson

ARG ROS_DISTRO=humble
ARG NODE_MAJOR=22
ARG ORT_BRANCH=rel-1.22.0
# Orin = sm_87 (Thor = 110). Without it: cudaErrorNoKernelImageForDevice (onnxruntime #16263).
ARG CUDA_ARCH=87

# Node.js from NodeSource (the ROS images carry none).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg git python3-pip \
 && mkdir -p /etc/apt/keyrings \
 && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
 && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" > /etc/apt/sources.list.d/nodesource.list \
 && apt-get update && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*

# onnxruntime with its Node binding, CUDA and TensorRT: there is no prebuilt linux-arm64 GPU build
# of onnxruntime-node, so it is built from source (--build_nodejs implies --build_shared_lib).
# --parallel 4: the build runs out of memory on 32 GB Orins with more.
RUN git clone --recursive --depth 1 -b ${ORT_BRANCH} https://github.com/microsoft/onnxruntime /opt/ort \
 && cd /opt/ort \
 && ./build.sh --config Release --update --build --parallel 4 --skip_tests --allow_running_as_root \
      --build_shared_lib --build_nodejs --use_cuda --use_tensorrt \
      --cuda_home /usr/local/cuda --cudnn_home /usr/lib/aarch64-linux-gnu --tensorrt_home /usr/lib/aarch64-linux-gnu \
      --cmake_extra_defines CMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH} onnxruntime_BUILD_UNIT_TESTS=OFF \
 && cd js/node && npm pack --pack-destination /opt/ort-node
# UNVERIFIED: the tarball name depends on the branch's js/node/package.json version.

WORKDIR /opt/vlad
# npm ci runs the package's `prepare` (tsc), so the compiler's inputs come first.
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
COPY test ./test
# rclnodejs generates its message bindings at install time, so ROS must be sourced in the SAME
# RUN. NodeSource's npm runs dependency install scripts (the allowScripts gate is npm 11's).
RUN bash -c "source /opt/ros/${ROS_DISTRO}/install/setup.bash \
 && npm ci --no-audit --no-fund \
 && npm install --no-save /opt/ort-node/onnxruntime-node-*.tgz \
 && node -e \"require('rclnodejs')\""
COPY . .
RUN npm run build \
 && node dist/src/cli/main.js bundle verify models/bundles/vlad-base-flow

# Where TensorRT engine caches and recordings go (mount /data from the host to keep them).
RUN mkdir -p /var/cache/vlad/trt /data
ENV VLAD_DATA=/data
ENTRYPOINT ["/ros_entrypoint.sh"]
CMD ["bash", "-c", "ros2 launch /opt/vlad/launch/vlad.launch.py"]
