# ROS 2 launch file for the closed loop over ROS: the simulated arm as a ros2_control robot
# (`vlad sim-ros`: /joint_states, the two cameras, JTC's ~/joint_trajectory, ~/reset, ~/success)
# and the vlad node on it (`vlad run --robot ros` with launch/vlad.params.yaml). Both are plain
# processes (no ament package), started with ExecuteProcess from this checkout (`npm run build` first).
#
#   ros2 launch launch/vlad_sim.launch.py task:=place seed:=3
#   ros2 service call /vlad_sim/reset std_srvs/srv/Trigger        # lays out task/seed, sends its instruction
#   ros2 service call /vlad/episode/start std_srvs/srv/Trigger
#   ros2 service call /vlad_sim/success std_srvs/srv/Trigger
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, RegisterEventHandler
from launch.event_handlers import OnProcessIO
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAIN = os.path.join(ROOT, 'dist', 'src', 'cli', 'main.js')


def generate_launch_description():
    args = [
        DeclareLaunchArgument('task', default_value='pick', description='pick | place | touch: the scene ~/reset lays out'),
        DeclareLaunchArgument('seed', default_value='0', description='layout seed'),
        DeclareLaunchArgument('hw_profile', default_value='cpu', description='hw-profiles/<name>.yaml'),
        DeclareLaunchArgument('bundle', default_value=os.path.join(ROOT, 'models', 'bundles', 'vlad-base-flow')),
        DeclareLaunchArgument('params_file', default_value=os.path.join(HERE, 'vlad.params.yaml')),
        DeclareLaunchArgument('mode', default_value='autonomous', description='idle | autonomous | teleop | intervention'),
        DeclareLaunchArgument('record_dir', default_value='/tmp/vlad_sim_rlds', description='where episodes are recorded'),
    ]
    sim = ExecuteProcess(
        cmd=[
            'node', MAIN, 'sim-ros',
            '--task', LaunchConfiguration('task'),
            '--seed', LaunchConfiguration('seed'),
        ],
        name='vlad_sim',
        output='screen',
        emulate_tty=True,
    )
    vlad = ExecuteProcess(
        cmd=[
            'node', MAIN, 'run', '--robot', 'ros',
            # The simulated arm's envelope, not the params file's example arm.
            '--robot-description', 'vlad-sim-arm',
            '--profile', LaunchConfiguration('hw_profile'),
            '--bundle', LaunchConfiguration('bundle'),
            '--mode', LaunchConfiguration('mode'),
            '--record', LaunchConfiguration('record_dir'),
            '--ota-dir', '',  # no over-the-air store on a development machine
            '--ros-args', '--params-file', LaunchConfiguration('params_file'),
        ],
        name='vlad',
        output='screen',
        emulate_tty=True,
        sigterm_timeout='5',  # vlad brings the arm to a hold and closes the open episode first
    )
    # vlad configures against the robot's first JointState: start it once sim-ros says it is up
    # (its log line 'simulated arm up' on stderr), as a robot's bringup comes before the node.
    started = []

    def on_sim_output(event):
        if not started and b'simulated arm up' in event.text:
            started.append(True)
            return [vlad]
        return None

    return LaunchDescription(args + [sim, RegisterEventHandler(OnProcessIO(target_action=sim, on_stderr=on_sim_output, on_stdout=on_sim_output))])
