// How to start `journey lsp`: the command line from the settings, and where the binary is.
// Kept free of the `vscode` module so that it can be unit-tested with plain node.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The `journey.server.*` settings. */
export interface ServerSettings {
  /** `journey.server.path`: a command on the PATH or a path to the binary. */
  path: string;
  /** `journey.server.extraArgs`: appended after `lsp`. */
  extraArgs: readonly unknown[];
}

/** Where the process runs and what it is told. */
export interface Environment {
  /** The first workspace folder, if any (relative paths are read from there). */
  workspaceFolder?: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  home: string;
  /** Whether `file` is an executable file (replaceable in tests). */
  isExecutable: (file: string) => boolean;
}

/** The server's command line. */
export interface ServerCommand {
  /** The command as configured, after expansion (shown in messages). */
  command: string;
  /** The binary it resolves to, or undefined when it cannot be found. */
  resolved: string | undefined;
  args: string[];
  /** The working directory: the first workspace folder, if any. */
  cwd: string | undefined;
  /** Whether the command was looked up on the PATH (rather than given as a path). */
  onPath: boolean;
}

export const DEFAULT_COMMAND = "journey";

/** The default environment: this process's. */
export function processEnvironment(workspaceFolder: string | undefined): Environment {
  return {
    workspaceFolder,
    env: process.env,
    platform: process.platform,
    home: os.homedir(),
    isExecutable,
  };
}

/** Whether `file` exists, is a file, and (off Windows) may be executed. */
export function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (process.platform !== "win32") {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/** Expands `~` (at the start) and `${workspaceFolder}`, `${userHome}` and `${env:NAME}`. */
export function expand(value: string, e: Environment): string {
  let v = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (whole, name: string, envName?: string) => {
    if (name === "workspaceFolder") {
      return e.workspaceFolder ?? whole;
    }
    if (name === "userHome") {
      return e.home;
    }
    return e.env[envName ?? ""] ?? "";
  });
  if (v === "~" || v.startsWith("~/") || (e.platform === "win32" && v.startsWith("~\\"))) {
    v = e.home + v.slice(1);
  }
  return v;
}

function pathApi(e: Environment): path.PlatformPath {
  return e.platform === "win32" ? path.win32 : path.posix;
}

/** Whether the configured command names a file (has a directory part) rather than a command. */
export function isPathLike(command: string, e: Environment): boolean {
  const p = pathApi(e);
  return p.isAbsolute(command) || command.includes("/") || (e.platform === "win32" && command.includes("\\"));
}

/** Looks `command` up on the PATH (with PATHEXT's extensions on Windows). */
export function findOnPath(command: string, e: Environment): string | undefined {
  const p = pathApi(e);
  const pathVar = e.env.PATH ?? e.env.Path ?? "";
  const dirs = pathVar.split(p.delimiter).filter((d) => d.length > 0);
  const exts =
    e.platform === "win32"
      ? ["", ...(e.env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((x) => x.length > 0)]
      : [""];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = p.join(dir, command + ext);
      if (e.isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The command line of `journey lsp` for these settings. */
export function serverCommand(settings: ServerSettings, e: Environment): ServerCommand {
  const configured = typeof settings.path === "string" ? settings.path.trim() : "";
  const command = expand(configured.length > 0 ? configured : DEFAULT_COMMAND, e);
  let resolved: string | undefined;
  const onPath = !isPathLike(command, e);
  if (!onPath) {
    const p = pathApi(e);
    const file = p.isAbsolute(command) ? command : p.resolve(e.workspaceFolder ?? process.cwd(), command);
    const candidates = e.platform === "win32" && p.extname(file) === "" ? [file, file + ".exe"] : [file];
    resolved = candidates.find((c) => e.isExecutable(c));
  } else {
    resolved = findOnPath(command, e);
  }
  const extra = Array.isArray(settings.extraArgs) ? settings.extraArgs : [];
  const args = ["lsp", ...extra.filter((a): a is string => typeof a === "string").map((a) => expand(a, e))];
  return { command, resolved, args, cwd: e.workspaceFolder, onPath };
}

/** The message shown when the binary cannot be found. */
export function notFoundMessage(cmd: ServerCommand): string {
  const what = cmd.onPath
    ? `"${cmd.command}" was not found on the PATH`
    : `"${cmd.command}" does not exist or is not an executable file`;
  return (
    `Journey: cannot start the language server: ${what}. ` +
    "Install journey (in its repository: cargo install --path .) and make sure it is on the PATH that VS Code sees, " +
    "or set the journey.server.path setting to the journey binary."
  );
}
