/**
 * The CloudEvent ids of sensor readings, the same whoever publishes them (the producers, the gateway), so
 * that a batch sent twice is recognizable downstream: v1 readings are numbered by the phone
 * (`<device>:<sequence>`); v2 readings have no sequence, and an acc and a gyro message may start at the
 * same instant (`<device>:<sensor>:<first time>`).
 */
export const readingsId = (device: string, sequence: number): string => `${device}:${sequence}`;

export const timedReadingsId = (device: string, sensor: string, firstTime: number): string =>
  `${device}:${sensor}:${firstTime}`;
