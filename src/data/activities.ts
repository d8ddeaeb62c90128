/** The six basic activities of UCI HAR, in UCI's order (label ids 1..6). */
export const ACTIVITIES = [
  'WALKING',
  'WALKING_UPSTAIRS',
  'WALKING_DOWNSTAIRS',
  'SITTING',
  'STANDING',
  'LAYING',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

/** HAPT's six postural transitions (label ids 7..12). Samples inside them keep these names. */
const TRANSITIONS = [
  'STAND_TO_SIT',
  'SIT_TO_STAND',
  'SIT_TO_LIE',
  'LIE_TO_SIT',
  'STAND_TO_LIE',
  'LIE_TO_STAND',
] as const;
export type Transition = (typeof TRANSITIONS)[number];

/** Every label a HAPT sample can carry; unlabelled samples carry null. */
export type HaptLabel = Activity | Transition;

const ALL_LABELS = new Map<string, HaptLabel>([...ACTIVITIES, ...TRANSITIONS].map((l) => [l, l]));

/** The interned label for a name, or undefined when HAPT has no such label. */
export function haptLabel(name: string): HaptLabel | undefined {
  return ALL_LABELS.get(name);
}

/** UCI HAR's subject split: the 9 test users; the other 21 are the training users. */
export const TEST_USERS: readonly number[] = Object.freeze([2, 4, 9, 10, 12, 13, 18, 20, 24]);
export const TRAIN_USERS: readonly number[] = Object.freeze(
  Array.from({ length: 30 }, (_, i) => i + 1).filter((u) => !TEST_USERS.includes(u)),
);

/** Channels per sample: acc x, y, z in g (gravity included), then gyro x, y, z in rad/s. */
export const CHANNEL_NAMES = ['acc_x', 'acc_y', 'acc_z', 'gyro_x', 'gyro_y', 'gyro_z'] as const;
export const CHANNELS = CHANNEL_NAMES.length;
