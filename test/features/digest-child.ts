/** Run in a separate process by featurizer.test.ts: prints the digest of the first sample test recording's windows. */
import { loadRecordings } from '../../src/data/hapt.ts';
import { Featurizer } from '../../src/features/index.ts';
import { digest } from './helpers.ts';

const r = loadRecordings('test', 'sample')[0];
process.stdout.write(digest(new Featurizer().push(r.samples, r.labels)));
