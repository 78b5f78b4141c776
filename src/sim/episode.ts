// Where episodes go (the RLDS recorder satisfies EpisodeSink) and the teleop episode loop: the
// scripted operator publishes joint targets on the ZeroMQ teleop path, the robot executes what
// arrives there, and the sink records observation + executed command per tick.
import type { ActionChunk, Observation } from '../core/contracts.js';
import { holdTrajectory } from '../robot/index.js';
import type { TeleopPublisher, TeleopReceiver } from '../io/zmq/index.js';
import { ScriptedExpert, type ExpertOptions } from './expert.js';
import type { SimRobot } from './robot.js';
import type { TaskInstance, TaskName } from './tasks.js';

export interface EpisodeMeta {
  task: TaskName;
  instruction: string;
  seed: number;
  mode: 'teleop' | 'policy';
  /** Free-form provenance (operator kind, bundle name, ...). */
  source: string;
}

export interface EpisodeStep {
  observation: Observation;
  /** The joint-target command executed after this observation (7). */
  action: Float32Array;
  /** 1 on the tick where the task's success test first holds, else 0. */
  reward: number;
  /** Who commanded this step (`perturbation`: the operator's deliberate error), and for policy steps the chunk it came from. */
  provenance: { mode: 'teleop' | 'policy' | 'perturbation'; chunk?: ActionChunk };
}

/** The narrow recording surface collection needs; the RLDS recorder implements it. */
export interface EpisodeSink {
  beginEpisode(meta: EpisodeMeta): void | Promise<void>;
  /** Non-blocking; false if the step was refused (backpressure). */
  addStep(step: EpisodeStep): boolean;
  /** Resolves when addStep has room: producers faster than real time await it to lose nothing. */
  whenWritable?(): Promise<void>;
  endEpisode(result: { success: boolean; truncated?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** Ticks recorded after success so demonstrations end in a settled state. */
export const SETTLE_TICKS: Record<TaskName, number> = { pick: 15, place: 10, touch: 5 };

export interface EpisodeResult {
  task: TaskName;
  seed: number;
  instruction: string;
  success: boolean;
  steps: number;
  /** Steps the sink refused. */
  refused: number;
  /** Teleop only: attempts the operator repeated, and steps recorded as a deliberate perturbation. */
  retries?: number;
  perturbedSteps?: number;
}

export interface TeleopLink {
  publisher: TeleopPublisher;
  receiver: TeleopReceiver;
}

/**
 * One demonstration. The expert's command crosses the teleop socket before the robot sees it,
 * so what is recorded is what the teleop path delivered.
 */
export async function runTeleopEpisode(robot: SimRobot, inst: TaskInstance, operatorSeed: number, link: TeleopLink | undefined,
  sink: EpisodeSink | undefined, operator: ExpertOptions = {}): Promise<EpisodeResult> {
  robot.reset(inst);
  const expert = new ScriptedExpert(robot.world, inst, operatorSeed, operator);
  await sink?.beginEpisode({ task: inst.task, instruction: inst.instruction, seed: inst.seed, mode: 'teleop', source: 'scripted-operator' });
  let settle = -1;
  let refused = 0;
  let steps = 0;
  let perturbedSteps = 0;
  const dt = robot.spec.controlDt;
  while (steps < inst.maxSteps && settle !== 0 && !expert.done) {
    const observation = sink ? robot.observe() : undefined;
    const command = expert.act();
    const mode = expert.perturbing ? 'perturbation' : 'teleop';
    if (mode === 'perturbation') perturbedSteps++;
    let executed: Float64Array = command;
    if (link) {
      await link.publisher.send(command, Number(robot.nowNs()));
      executed = (await link.receiver.next()).positions;
    }
    robot.command(holdTrajectory(executed, robot.nowNs(), dt));
    const wasSuccess = robot.succeeded;
    robot.advance();
    steps++;
    const reward = !wasSuccess && robot.succeeded ? 1 : 0;
    if (observation && sink?.whenWritable) await sink.whenWritable();
    if (observation && sink && !sink.addStep({ observation, action: Float32Array.from(executed), reward, provenance: { mode } })) refused++;
    if (robot.succeeded) settle = settle < 0 ? SETTLE_TICKS[inst.task] : settle - 1;
  }
  const success = robot.succeeded;
  await sink?.endEpisode({ success, truncated: !success && steps >= inst.maxSteps });
  return { task: inst.task, seed: inst.seed, instruction: inst.instruction, success, steps, refused, retries: expert.retries, perturbedSteps };
}
