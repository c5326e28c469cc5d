/** Server CPU and memory from /proc (Linux): the sum over a process group, and the RSS of named members. */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux

export type GroupUsage = { cpuMs: number; rssBytes: number; rssByName: Record<string, number>; cpuByName: Record<string, number> };

/** The processes of a process group, with their stat fields after the parenthesised name. */
export function groupProcesses(pgid: number): Array<{ pid: number; name: string; fields: string[] }> {
  const found: Array<{ pid: number; name: string; fields: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised name: state(3) ppid(4) pgrp(5) ... utime(14) stime(15) ... rss(24, pages).
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) === pgid) found.push({ pid: Number(entry), name: stat.slice(stat.indexOf("(") + 1, close), fields });
  }
  return found;
}

export function groupUsage(pgid: number): GroupUsage {
  const usage: GroupUsage = { cpuMs: 0, rssBytes: 0, rssByName: {}, cpuByName: {} };
  for (const { name, fields } of groupProcesses(pgid)) {
    const cpu = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    usage.cpuMs += cpu;
    usage.cpuByName[name] = (usage.cpuByName[name] ?? 0) + cpu;
    const rss = Number(fields[21]) * 4096;
    usage.rssBytes += rss;
    usage.rssByName[name] = (usage.rssByName[name] ?? 0) + rss;
  }
  return usage;
}

/** The generator's own CPU (this Node process), in ms. */
export function selfCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
