/**
 * The feature set: which signals, which statistics, in which order. Names
 * follow UCI HAR's conventions (t = time domain, f = frequency domain);
 * `log` marks a statistic stored as its natural logarithm (docs/features.md).
 * `FEATURE_NAMES` is built from the same lists the computation walks, so the
 * order of names and values cannot drift apart (compute.ts checks the count).
 */

/** Time-domain signals with three axes: body/gravity split of acc, jerks, gyro. */
const AXIS_SIGNALS = ['tBodyAcc', 'tGravityAcc', 'tBodyAccJerk', 'tBodyGyro', 'tBodyGyroJerk'] as const;
const MAG_SIGNALS = ['tBodyAccMag', 'tGravityAccMag', 'tBodyAccJerkMag', 'tBodyGyroMag', 'tBodyGyroJerkMag'] as const;
const AXES = ['X', 'Y', 'Z'] as const;

/** The 20 time channels of a window: 5 axis signals × 3 axes, then 5 magnitudes. */
export const TIME_CHANNELS: readonly string[] = Object.freeze([
  ...AXIS_SIGNALS.flatMap((s) => AXES.map((a) => `${s}-${a}`)),
  ...MAG_SIGNALS,
]);
/** Channel index of the first axis of each axis signal (X; Y and Z follow). */
export const CH = { body: 0, gravity: 3, jerk: 6, gyro: 9, gyroJerk: 12, bodyMag: 15, gravityMag: 16 } as const;

/** Per time channel. std and iqr are spreads over orders of magnitude (still vs walking): logs. */
const TIME_STATS = ['mean', 'logStd', 'min', 'max', 'logIqr'] as const;

/** Signals whose axis pairs' correlation is a feature (first channel of each). */
export const CORRELATED = [
  ['tBodyAcc', CH.body],
  ['tGravityAcc', CH.gravity],
  ['tBodyGyro', CH.gyro],
] as const;
export const PAIRS = [
  [0, 1],
  [0, 2],
  [1, 2],
] as const;

/** Spectra: name and the time channel each is the 128-point FFT of. */
export const SPECTRA = [
  ['fBodyAcc-X', 0],
  ['fBodyAcc-Y', 1],
  ['fBodyAcc-Z', 2],
  ['fBodyAccJerk-X', 6],
  ['fBodyAccJerk-Y', 7],
  ['fBodyAccJerk-Z', 8],
  ['fBodyGyro-X', 9],
  ['fBodyGyro-Y', 10],
  ['fBodyGyro-Z', 11],
  ['fBodyAccMag', 15],
  ['fBodyAccJerkMag', 17],
  ['fBodyGyroMag', 18],
  ['fBodyGyroJerkMag', 19],
] as const;
/** FFT bins of the band energies at 50 Hz: 0.4-3.1, 3.5-6.3, 6.6-12.5, 12.9-25 Hz (bin k is k × 50/128 Hz). */
export const BANDS = [
  [1, 8],
  [9, 16],
  [17, 32],
  [33, 64],
] as const;
const SPECTRAL_STATS = [
  'logEnergy',
  'meanFreq',
  'dominantFreq',
  'entropy',
  'logBand1',
  'logBand2',
  'logBand3',
  'logBand4',
] as const;

/** Angles (radians) between the window's mean gravity vector and other directions: the phone's posture. */
export const ANGLES = [
  'angle(tBodyAccMean,gravityMean)',
  'angle(tBodyGyroMean,gravityMean)',
  'angle(X,gravityMean)',
  'angle(Y,gravityMean)',
  'angle(Z,gravityMean)',
] as const;

export const FEATURE_NAMES: readonly string[] = Object.freeze([
  ...TIME_CHANNELS.flatMap((c) => TIME_STATS.map((s) => `${c}-${s}`)),
  ...CORRELATED.flatMap(([s]) => PAIRS.map(([i, j]) => `${s}-correlation-${AXES[i]}${AXES[j]}`)),
  ...SPECTRA.flatMap(([f]) => SPECTRAL_STATS.map((s) => `${f}-${s}`)),
  ...ANGLES,
]);

/**
 * Identifies this feature set in feature-vector events; bump it when names or computation change.
 * v3: the inputs are conditioned (median, 20 Hz low-pass) before the features; the names are v2's.
 */
export const FEATURE_SET = `har-v3-${FEATURE_NAMES.length}`;
