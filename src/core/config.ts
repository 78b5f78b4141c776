// The one YAML + ajv loader: every validated input file (node parameters, hw-profiles, robot
// descriptions, bundle manifests) is read, parsed and checked here, and every failure names the
// file and the field, as ros2_control's generate_parameter_library does.
import { readFile } from 'node:fs/promises';
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { firstSchemaError } from './schema-error.js';

/** A bad configuration input: `file: field: message`. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly field: string, message: string) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

type ErrorFactory = (file: string, field: string, message: string) => Error;
const configError: ErrorFactory = (file, field, message) => new ConfigError(file, field, message);

const ajv = new Ajv({ strict: true, allowUnionTypes: true });

/** Compiles a JSON schema once (module load), with the project's ajv settings. */
export function compileSchema<T>(schema: AnySchema): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/** Checks `raw` against a compiled schema; throws the first error naming the field. */
export function validateConfig<T>(validate: ValidateFunction<T>, raw: unknown, file: string, makeError: ErrorFactory = configError): T {
  if (!validate(raw)) {
    const { field, message } = firstSchemaError(validate.errors);
    throw makeError(file, field, message);
  }
  return raw as T;
}

export function parseYamlText(text: string, file: string, makeError: ErrorFactory = configError): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw makeError(file, '(root)', `not valid YAML: ${(err as Error).message}`);
  }
}

/** Reads and parses a YAML (or JSON) file; unreadable -> `file: (file): <what>`. */
export async function readYamlFile(path: string, what: string, makeError: ErrorFactory = configError): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw makeError(path, '(file)', code === 'ENOENT' ? `no such ${what}` : `cannot read ${what} (${code ?? (err as Error).message})`);
  }
  return parseYamlText(text, path, makeError);
}
