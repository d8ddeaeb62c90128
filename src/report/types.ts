/** Everything the HTML report shows; gathered from the topics and the registry by `collect.ts`. Times are seconds from the run's start. */
export interface ReportData {
  title: string;
  /** ISO time the report was written. */
  generatedAt: string;
  /** Free-form facts shown at the top (transport, tracking backend, phones, samples, ...). */
  facts: Record<string, string | number>;
  /** When the injected or known drift began, if any. */
  driftStart: number | null;
  drifts: ReportDrift[];
  /** Rolling accuracy of the labelled predictions. */
  accuracy: { time: number; accuracy: number; version: number }[];
  deployments: { time: number; version: number; event: string }[];
  versions: ReportVersion[];
}

export interface ReportDrift {
  time: number;
  device: string;
  /** Null for concept drift (the model's error rate). */
  feature: string | null;
  activity: string | null;
}

export interface ReportVersion {
  version: number;
  promoted: boolean;
  /** Why it was (not) promoted. */
  reason: string;
  candidate: string;
  metrics: Record<string, number>;
  confusion: { classes: string[]; matrix: number[][] } | null;
  lineage: {
    topic: string;
    ranges: { partition: number; fromOffset: number; toOffset: number; records: number }[];
    records: number;
    digest: string;
  } | null;
}
