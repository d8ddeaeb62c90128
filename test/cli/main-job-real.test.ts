import { describeMainJob } from './main-job.ts';

describeMainJob('the real broker and a real MLflow server', 'real');
