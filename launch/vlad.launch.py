# ROS 2 launch file for the vlad node. vlad is a Node.js program, not an ament package, so it is
# started with ExecuteProcess; ROS arguments (remaps, params file) reach rclnodejs through
# --ros-args exactly as they would reach an rclcpp node.
#
#   ros2 launch launch/vlad.launch.py hw_profile:=jetson-agx-orin bundle:=/opt/vlad/models/bundles/vlad-base-flow
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def generate_launch_description():
    args = [
        DeclareLaunchArgument('hw_profile', default_value='cpu', description='hw-profiles/<name>.yaml'),
        DeclareLaunchArgument('bundle', default_value=os.path.join(ROOT, 'models', 'bundles', 'vlad-base-flow')),
        DeclareLaunchArgument('params_file', default_value=os.path.join(HERE, 'vlad.params.yaml')),
        DeclareLaunchArgument('namespace', default_value=''),
    ]
    node = ExecuteProcess(
        cmd=[
            'node', os.path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'run',
            '--profile', LaunchConfiguration('hw_profile'),
            '--bundle', LaunchConfiguration('bundle'),
            '--ros-args', '--params-file', LaunchConfiguration('params_file'),
            '-r', ['__ns:=/', LaunchConfiguration('namespace')],
        ],
        name='vlad',
        output='screen',
        emulate_tty=True,
        sigterm_timeout='5',  # vlad brings the arm to a hold and closes the open episode first
    )
    return LaunchDescription(args + [node])
