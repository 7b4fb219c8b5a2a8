/** isolate-kit: sandboxed child processes from Node.js. Public exports only. */
export { Container } from './container';
export type {
  ContainerEvents,
  ContainerOptions,
  ContainerState,
  ProcessOptions,
  RunOptions,
  SpawnOptions,
  StdioOption,
} from './container';
export { ContainerProcess } from './process';
export type { ContainerProcessEvents, ProcessUsage } from './process';
export type { RunLimitHit, RunLimits, RunResult, RunStatus } from './run';
export { CGroup } from './cgroup/cgroup';
export type { CGroupEvents, CGroupOptions } from './cgroup/cgroup';
export type { CGroupStats } from './cgroup/backend';
export type {
  CGroupLimits,
  CpuLimits,
  CpusetLimits,
  DeviceRule,
  DeviceRuleSpec,
  IoDeviceLimit,
  IoLimits,
  IoThrottle,
  Max,
  MemoryLimits,
  NormalizedLimits,
  SizeOrMax,
} from './cgroup/limits';
export { gc } from './gc';
export type { GcReport } from './gc';
export type { CgroupGcReport } from './cgroup/gc';
export { listContainers } from './ps';
export type { SeccompAction, SeccompFilterCondition, SeccompOperator, SeccompProfile, SeccompRule } from './seccomp-profile';
export type { ContainerInfo } from './ps';
export { Namespace, NAMESPACE_KINDS, DEFAULT_KINDS } from './namespace';
export type { IdMap, NamespaceKind, NamespaceOptions } from './namespace';
export { LayerStack, type OverlayOptions } from './layer-stack';
export { ImageStore } from './image/store';
export type { ExportImageOptions, GcResult as ImageGcResult, ImageStoreOptions, ImportImageOptions } from './image/store';
export { Layer } from './image/layer';
export type { LayerImportOptions, LayerRecord } from './image/layer';
export { Image } from './image/image';
export type { ImageRecord, ImageRunConfig, OciImageConfig } from './image/image';
export type { Change } from './image/diff';
export { DEFAULT_EXTRACT_LIMITS } from './image/tar-read';
export type { Digest, ExtractLimits, Progress } from './image/contracts';
export type { BindMount, MountSpec, TmpfsMount } from './filesystem';
export type { RlimitName, RlimitOptions, RlimitValue, UserOptions } from './process-options';
export { IsolateError, isIsolateError } from './errors';
export type { IsolateErrorCode, IsolateErrorDetails, IsolateErrorJson } from './errors';
export { probe } from './probe';
export type { Capability, CgroupReport, ProbeReport } from './probe';
export type { Duration, Size } from './units';
