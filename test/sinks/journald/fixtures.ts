import type { ContainerInfo } from '../../../src/docker/container-info.js';

export const ID = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

export function info(extra: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    Config: {},
    ContainerID: ID,
    ContainerName: '/web-1',
    ContainerEntrypoint: 'sh',
    ContainerArgs: ['-c', 'true'],
    ContainerImageID: 'sha256:' + 'f'.repeat(64),
    ContainerImageName: 'logfan-test/busybox:latest',
    ContainerCreated: '2025-11-29T09:00:00Z',
    ContainerEnv: ['PATH=/bin', 'APP_MODE=prod'],
    ContainerLabels: { 'com.example.team': 'core', multi: 'a\nb' },
    LogPath: '',
    DaemonName: 'docker',
    ...extra,
  };
}
