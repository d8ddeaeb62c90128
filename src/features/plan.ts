/**
 * The feature set: which signals, which statistics, in which order. Names
 * follow UCI HAR's conventions (t = time domain, f = frequency domain).
 * `FEATURE_NAMES` is built from the same lists the computation walks, so the
 * order of names and values cannot drift apart (test/features/featurizer.test.ts).
 */

/** Time-domain signals of a window: body/gravity split of acc, jerks, gyro, magnitudes. */
export const AXIS_SIGNALS = ['tBodyAcc', 'tGravityAcc', 'tBodyAccJerk', 'tBodyGyro', 'tBodyGyroJerk'] as const;
export const MAG_SIGNALS = [
  'tBodyAccMag',
  'tGravityAccMag',
  'tBodyAccJerkMag',
  'tBodyGyroMag',
  'tBodyGyroJerkMag',
] as const;
export const AXES = ['X', 'Y', 'Z'] as const;

/** Per time-domain channel. */
export const TIME_STATS = ['mean', 'std', 'mad', 'min', 'max', 'iqr'] as const;
/** Axis pairs whose correlation is a feature. */
export const CORRELATED = ['tBodyAcc', 'tGravityAcc', 'tBodyGyro'] as const;
export const PAIRS = [
  [0, 1],
  [0, 2],
  [1, 2],
] as const;

/** Spectra: the FFT of these channels (index into the 20 time channels). */
export const SPECTRA = [
  'fBodyAcc-X',
  'fBodyAcc-Y',
  'fBodyAcc-Z',
  'fBodyAccJerk-X',
  'fBodyAccJerk-Y',
  'fBodyAccJerk-Z',
  'fBodyGyro-X',
  'fBodyGyro-Y',
  'fBodyGyro-Z',
  'fBodyAccMag',
  'fBodyAccJerkMag',
  'fBodyGyroMag',
  'fBodyGyroJerkMag',
] as const;
/** Time channel each spectrum is taken of (channels: 5 axis signals × 3 axes, then 5 magnitudes). */
export const SPECTRUM_SOURCE = [0, 1, 2, 6, 7, 8, 9, 10, 11, 15, 17, 18, 19] as const;
/** FFT bins of the band energies: 0.4-3.1 Hz, 3.5-6.3 Hz, 6.6-12.5 Hz, 12.9-25 Hz at 50 Hz. */
export const BANDS = [
  [1, 8],
  [9, 16],
  [17, 32],
  [33, 64],
] as const;
export const SPECTRAL_STATS = [
  'energy',
  'meanFreq',
  'dominantFreq',
  'entropy',
  'band1',
  'band2',
  'band3',
  'band4',
] as const;

export const ANGLES = [
  'angle(tBodyAccMean,gravityMean)',
  'angle(tBodyGyroMean,gravityMean)',
  'angle(X,gravityMean)',
  'angle(Y,gravityMean)',
  'angle(Z,gravityMean)',
] as const;

export const TIME_CHANNELS: readonly string[] = [
  ...AXIS_SIGNALS.flatMap((s) => AXES.map((a) => `${s}-${a}`)),
  ...MAG_SIGNALS,
];

export const FEATURE_NAMES: readonly string[] = Object.freeze([
  ...TIME_CHANNELS.flatMap((c) => TIME_STATS.map((s) => `${c}-${s}`)),
  ...CORRELATED.flatMap((s) => PAIRS.map(([i, j]) => `${s}-correlation-${AXES[i]}${AXES[j]}`)),
  ...SPECTRA.flatMap((f) => SPECTRAL_STATS.map((s) => `${f}-${s}`)),
  ...ANGLES,
]);

/** Identifies this feature set in feature-vector events; bump it when names or computation change. */
export const FEATURE_SET = `har-v1-${FEATURE_NAMES.length}`;
