// loadRclnodejs refuses before any import when ROS is not sourced; the rclnodejs double keeps the
// rules the node relies on (lifecycle transitions and callback codes, lifecycle publishers,
// read-only parameters and descriptors, typed-array delivery).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallbackReturnCode, loadRclnodejs, RosNotSourcedError } from '../../../src/io/ros/index.js';
import { rclDouble } from '../../support/rclnodejs-double.js';

test('loadRclnodejs without a sourced ROS refuses with the missing variables and never imports rclnodejs', async () => {
  let imported = 0;
  const importer = async () => { imported++; return {}; };
  await assert.rejects(loadRclnodejs({}, importer), (e: unknown) => e instanceof RosNotSourcedError && /AMENT_PREFIX_PATH and ROS_DISTRO are not set/.test(e.message) && /source \/opt\/ros\/<distro>\/setup.bash/.test(e.message));
  await assert.rejects(loadRclnodejs({ AMENT_PREFIX_PATH: '/opt/ros/humble' }, importer), /ROS_DISTRO is not set/);
  assert.equal(imported, 0);
  const mod = { init: () => undefined };
  assert.equal(await loadRclnodejs({ AMENT_PREFIX_PATH: '/opt/ros/humble', ROS_DISTRO: 'humble' }, async () => ({ default: mod })), mod);
  await assert.rejects(loadRclnodejs({ AMENT_PREFIX_PATH: '/x', ROS_DISTRO: 'jazzy' }, async () => { throw new Error('Cannot find package'); }), /rclnodejs did not load .*npm i rclnodejs/);
});

test('double: lifecycle state machine, callback codes, lifecycle publishers, services', async () => {
  const rcl = rclDouble();
  await rcl.init();
  const node = new rcl.lifecycle.LifecycleNode('n');
  const pub = node.createLifecyclePublisher('std_msgs/msg/String', '~/out');
  let code: CallbackReturnCode = CallbackReturnCode.FAILURE;
  node.registerOnConfigure((prev) => { assert.equal(prev.label, 'unconfigured'); return code; });
  node.registerOnActivate(() => { pub.activate(); return CallbackReturnCode.SUCCESS; });
  assert.throws(() => node.activate(), /No transition available/);
  const rv = new rcl.lifecycle.CallbackReturnValue();
  assert.equal(node.configure(rv).label, 'unconfigured');
  assert.equal(rv.isSuccess(), false);
  code = CallbackReturnCode.SUCCESS;
  assert.equal(node.configure().label, 'inactive');
  pub.publish({ data: 'dropped' });
  assert.equal(rcl.graph.messages('/n/out').length, 0);
  assert.match(rcl.graph.warnings[0]!, /not activated/);
  // The built-in change_state service (enableCommunicationInterface defaults to true) answers from the callback.
  node.spin();
  assert.deepEqual(await rcl.graph.call('/n/change_state', 'lifecycle_msgs/srv/ChangeState', { transition: { id: 3, label: '' } }), { success: true });
  pub.publish({ data: 'sent' });
  assert.deepEqual(rcl.graph.messages('/n/out'), [{ data: 'sent' }]);
  // A throwing callback is an ERROR: errorprocessing, then unconfigured when onError succeeds (none registered: SUCCESS).
  node.registerOnDeactivate(() => { throw new Error('boom'); });
  assert.equal(node.deactivate().label, 'unconfigured');
  rcl.shutdown();
});

test('double: parameters refuse read-only and out-of-range values before the on-set callback; messages arrive as rclnodejs delivers them', async () => {
  const rcl = rclDouble();
  await rcl.init();
  const node = new rcl.lifecycle.LifecycleNode('p', '', undefined, undefined, false);
  node.declareParameter(new rcl.Parameter('bundle', 4, 'a'), new rcl.ParameterDescriptor('bundle', 4, 'bundle', true));
  node.declareParameter(new rcl.Parameter('steps', 2, 3n), new rcl.ParameterDescriptor('steps', 2, 'steps', false, new rcl.IntegerRange(0n, 10n, 1n)));
  assert.throws(() => node.declareParameter(new rcl.Parameter('bad', 2, 3), undefined), /Invalid bad/);
  const seen: string[] = [];
  node.addOnSetParametersCallback((ps) => { seen.push(...ps.map((p) => p.name)); return { successful: true, reason: '' }; });
  assert.deepEqual(rcl.graph.setParameter('p', 'bundle', 'b'), { successful: false, reason: 'Parameter bundle is readonly' });
  assert.equal(rcl.graph.setParameter('p', 'steps', 11).successful, false);
  assert.equal(rcl.graph.setParameter('p', 'steps', 4).successful, true);
  assert.equal(node.getParameter('steps').value, 4n);
  assert.deepEqual(seen, ['steps']);
  assert.equal(rcl.graph.services.has('/p/change_state'), false, 'no lifecycle services without the communication interface');

  let got: { position: unknown; header: unknown } | undefined;
  node.createSubscription('sensor_msgs/msg/JointState', '/js', { qos: rcl.QoS.profileSensorData }, (m) => { got = m; });
  node.createSubscription('sensor_msgs/msg/JointState', '/reliable', {}, () => assert.fail('a reliable subscription gets nothing from a best-effort publisher'));
  node.spin();
  rcl.graph.publish('/js', 'sensor_msgs/msg/JointState', { name: ['a'], position: [1.5] });
  rcl.graph.publish('/reliable', 'sensor_msgs/msg/JointState', { name: ['a'], position: [1.5] }, { reliable: false });
  assert.equal(got, undefined, 'never delivered inside publish()');
  await rcl.graph.drain();
  assert.ok(got!.position instanceof Float64Array);
  assert.deepEqual(got!.header, { stamp: { sec: 0, nanosec: 0 }, frame_id: '' });
  rcl.shutdown();
});
