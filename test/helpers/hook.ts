/** Test helpers for `hdplan hook`: run it in this process, and a fake NVIDIA VF sysfs tree. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HookIo, runHook } from "../../src/commands/hook.js";

/** Run the hook in-process with exactly `env` as the HDPLAN_* variables (others removed). */
export async function hookInProcess(
  argv: string[],
  stdin: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  for (const k of Object.keys(process.env)) if (k.startsWith("HDPLAN_")) delete process.env[k];
  Object.assign(process.env, env);
  let stdout = "";
  let stderr = "";
  const io: HookIo = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    stdin: () => stdin,
    stdinAsync: async () => stdin,
    isTTY: false,
    color: false,
  };
  const code = await runHook(argv, io);
  return { code, stdout, stderr };
}

/** ROOT/sys/bus/pci/devices/<VF>/nvidia/{current_vgpu_type,creatable_vgpu_types}: per VF [current, creatable ids]. */
export function writeVgpuSysfs(
  root: string,
  vfs: Record<string, [number, number[]]>,
  names: Record<number, string>,
): void {
  for (const [a, [cur, cr]] of Object.entries(vfs)) {
    const d = join(root, "sys/bus/pci/devices", a, "nvidia");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "current_vgpu_type"), `${cur}\n`);
    writeFileSync(
      join(d, "creatable_vgpu_types"),
      ["ID : vGPU Name", ...cr.map((id) => `${id} : ${names[id]}`)].join("\n"),
    );
  }
}
