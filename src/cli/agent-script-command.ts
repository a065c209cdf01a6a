import type { Command } from "commander"; export function registerAgentScript(_p: Command, _s: (c: number) => void): void {}
