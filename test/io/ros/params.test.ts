// ROS parameter descriptors from the daemon's real params schema, valued from the shipped launch
// params file: types, ranges, read-only, dotted names of nested objects and maps; values round-trip
// through the flat ROS form; run-time changes accepted or refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readYamlFile } from '../../../src/core/index.js';
import { DEFAULT_PARAMS, mergeParams, PARAMS_SCHEMA, validateParams, type NodeParams } from '../../../src/daemon/index.js';
import { fromRosValue, ParameterType, paramTable, toRosValue, unflattenParams, type ParamDescriptor, type ParamSchema } from '../../../src/io/ros/index.js';
import { repoRoot } from '../../support/bundles.js';

const T = ParameterType;

async function launchParams(): Promise<NodeParams> {
  const file = (await readYamlFile(join(repoRoot, 'launch', 'vlad.params.yaml'), 'params')) as { vlad: { ros__parameters: unknown } };
  return mergeParams(DEFAULT_PARAMS, file.vlad.ros__parameters);
}

const byName = (ds: readonly ParamDescriptor[]) => new Map(ds.map((d) => [d.name, d]));

test('rcl_interfaces ParameterType numbering', () => {
  assert.deepEqual(
    [T.PARAMETER_NOT_SET, T.PARAMETER_BOOL, T.PARAMETER_INTEGER, T.PARAMETER_DOUBLE, T.PARAMETER_STRING, T.PARAMETER_BYTE_ARRAY, T.PARAMETER_BOOL_ARRAY, T.PARAMETER_INTEGER_ARRAY, T.PARAMETER_DOUBLE_ARRAY, T.PARAMETER_STRING_ARRAY],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

test('descriptors of known parameters: type, range, read-only, value from the params file', async () => {
  const params = await launchParams();
  const table = paramTable(PARAMS_SCHEMA as ParamSchema, params);
  const d = byName(table.descriptors);
  assert.equal(d.size, table.descriptors.length, 'names are unique');

  const steps = d.get('denoising_steps')!;
  assert.deepEqual([steps.type, steps.readOnly, steps.value], [T.PARAMETER_INTEGER, false, 0]);
  assert.deepEqual(steps.integerRange, { fromValue: 0, toValue: 100, step: 1 });
  assert.equal(steps.floatingPointRange, undefined);

  const replan = d.get('replan_threshold')!;
  assert.deepEqual([replan.type, replan.readOnly, replan.value], [T.PARAMETER_DOUBLE, true, 0.2]);
  assert.deepEqual(replan.floatingPointRange, { fromValue: 0, toValue: 1, step: 0 });

  const mode = d.get('mode')!;
  assert.deepEqual([mode.type, mode.readOnly, mode.value], [T.PARAMETER_STRING, false, 'idle']);
  assert.equal(mode.additionalConstraints, 'one of: idle, autonomous, teleop, intervention');
  assert.deepEqual([d.get('join')!.readOnly, d.get('output_mode')!.readOnly, d.get('output_mode')!.value], [false, true, 'trajectory']);

  assert.deepEqual([d.get('autostart')!.type, d.get('autostart')!.value], [T.PARAMETER_BOOL, true]);
  assert.deepEqual([d.get('metrics_port')!.type, d.get('metrics_port')!.value], [T.PARAMETER_INTEGER, 9464]);
  assert.deepEqual(d.get('metrics_port')!.integerRange, { fromValue: 0, toValue: 65535, step: 1 });
  assert.deepEqual([d.get('joint_names')!.type, d.get('joint_names')!.value], [T.PARAMETER_STRING_ARRAY, ['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'gripper']]);
  assert.match(d.get('joint_names')!.additionalConstraints, /at least 1 items/);

  // Nested objects flatten with dots, as a ROS params file writes them.
  const chunks = d.get('ota.health.chunks')!;
  assert.deepEqual([chunks.type, chunks.readOnly, chunks.value], [T.PARAMETER_INTEGER, true, 50]);
  assert.deepEqual(chunks.integerRange, { fromValue: 1, toValue: 1e6, step: 1 });
  assert.deepEqual([d.get('ota.trusted_keys')!.type, d.get('ota.trusted_keys')!.value], [T.PARAMETER_STRING_ARRAY, []]);
  assert.equal(d.get('ota.dir')!.value, '/var/lib/vlad/ota');
  // An exclusive bound: the ROS range keeps it, the constraint text says it is exclusive.
  const age = d.get('streams.cameras.max_age_s')!;
  assert.deepEqual([age.value, age.floatingPointRange], [0.2, { fromValue: 0, toValue: 60, step: 0 }]);
  assert.equal(age.additionalConstraints, '> 0');
  // Maps give one parameter per key present; empty maps none.
  assert.deepEqual([d.get('camera_topics.scene')!.type, d.get('camera_topics.scene')!.value], [T.PARAMETER_STRING, '/cameras/scene/image_raw']);
  assert.equal(d.get('camera_topics.wrist')!.value, '/cameras/wrist/image_raw');
  assert.equal([...d.keys()].filter((k) => k.startsWith('serve.gr00t.state')).length, 0);
  const withSlices = byName(paramTable(PARAMS_SCHEMA as ParamSchema, mergeParams(params, { serve: { gr00t: { state: { arm: [0, 6], gripper: [6, 7] } } } })).descriptors);
  assert.deepEqual([withSlices.get('serve.gr00t.state.arm')!.type, withSlices.get('serve.gr00t.state.arm')!.value], [T.PARAMETER_INTEGER_ARRAY, [0, 6]]);
  assert.deepEqual(table.skipped, []);
});

test('the flat ROS form round-trips to the nested parameters the schema validates', async () => {
  const params = await launchParams();
  const { descriptors } = paramTable(PARAMS_SCHEMA as ParamSchema, params);
  // As rclnodejs hands them back: integers as bigint.
  const flat = Object.fromEntries(descriptors.map((d) => [d.name, toRosValue(d.type, d.value)]));
  assert.equal(flat['ota.health.chunks'], 50n);
  assert.deepEqual(flat['joint_names'], params.joint_names);
  const nested = unflattenParams(flat);
  assert.equal(validateParams(nested), true, JSON.stringify(validateParams.errors));
  assert.deepEqual(mergeParams(DEFAULT_PARAMS, nested), params);
  assert.deepEqual(toRosValue(T.PARAMETER_INTEGER_ARRAY, [0, 6]), [0n, 6n]);
  assert.deepEqual(fromRosValue(BigInt64Array.of(3n, 4n)), [3, 4]);
  assert.deepEqual(fromRosValue(Float64Array.of(0.5)), [0.5]);
});

test('run-time changes: mode, join and denoising steps accepted when valid; everything else refused with a reason', async () => {
  const table = paramTable(PARAMS_SCHEMA as ParamSchema, await launchParams());
  assert.deepEqual(table.runtimeChange('mode', 'teleop'), { accepted: true, value: 'teleop' });
  assert.deepEqual(table.runtimeChange('join', 'ensemble'), { accepted: true, value: 'ensemble' });
  assert.deepEqual(table.runtimeChange('denoising_steps', 8n), { accepted: true, value: 8 });
  const refuse = (name: string, value: unknown, re: RegExp) => {
    const r = table.runtimeChange(name, value);
    assert.equal(r.accepted, false, `${name}=${String(value)}`);
    if (!r.accepted) assert.match(r.reason, re);
  };
  refuse('mode', 'flying', /must be one of idle, autonomous, teleop, intervention/);
  refuse('denoising_steps', 101n, /<= 100/);
  refuse('denoising_steps', 2.5, /an integer/);
  refuse('join', 3n, /a string/);
  refuse('bundle', '/tmp/other', /read at configure.*restart/);
  refuse('ota.health.chunks', 10n, /read at configure/);
  refuse('no_such_param', 1, /not a parameter/);
});
