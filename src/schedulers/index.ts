/**
 * The schedulers by diffusers class name, for building one from a scheduler_config.json.
 * PASD samples with UniPC; its SD1.5 config names PNDMScheduler, which the PASD pipeline
 * replaces by `UniPCMultistepScheduler.from_config(...)`, so callers pass the class they want.
 */
import { ConfigError } from '../core/errors.ts';
import type { Scheduler } from './common.ts';
import type { Warn } from './config.ts';
import { DDIMScheduler } from './ddim.ts';
import { DDPMScheduler } from './ddpm.ts';
import { DPMSolverMultistepScheduler } from './dpm_solver.ts';
import { EulerDiscreteScheduler } from './euler.ts';
import { LCMScheduler } from './lcm.ts';
import { UniPCMultistepScheduler } from './unipc.ts';

export type { FloatArray, Scheduler, StepOptions, StepOutput } from './common.ts';
export { DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, LCMScheduler, UniPCMultistepScheduler };

/**
 * Every scheduler, by diffusers class name, with the short name the CLI, the server and the
 * page offer (`--scheduler unipc`), in the order they list them (the first is the pipeline's
 * default). Adding a scheduler is one entry here: those lists derive from this one.
 */
export const SCHEDULERS = {
  UniPCMultistepScheduler: { choice: 'unipc', Class: UniPCMultistepScheduler },
  DDIMScheduler: { choice: 'ddim', Class: DDIMScheduler },
  DPMSolverMultistepScheduler: { choice: 'dpmsolver', Class: DPMSolverMultistepScheduler },
  EulerDiscreteScheduler: { choice: 'euler', Class: EulerDiscreteScheduler },
  LCMScheduler: { choice: 'lcm', Class: LCMScheduler },
  DDPMScheduler: { choice: 'ddpm', Class: DDPMScheduler },
} as const;
export type SchedulerName = keyof typeof SCHEDULERS;
/** A scheduler's short name (`unipc`, `ddim`, …). */
export type SchedulerChoice = (typeof SCHEDULERS)[SchedulerName]['choice'];

/** Short name → class name, in registry order. */
export const SCHEDULER_CHOICES: ReadonlyMap<SchedulerChoice, SchedulerName> = new Map(
  (Object.keys(SCHEDULERS) as SchedulerName[]).map((name) => [SCHEDULERS[name].choice, name]),
);

/** `<className>.from_config(config)`; throws ConfigError for a class we do not implement. */
export function createScheduler(className: string, config: unknown, warn?: Warn): Scheduler {
  if (!Object.hasOwn(SCHEDULERS, className)) {
    throw new ConfigError(`scheduler "${className}" is not supported; use one of ${Object.keys(SCHEDULERS).join(', ')}`);
  }
  return new SCHEDULERS[className as SchedulerName].Class(config, warn);
}
