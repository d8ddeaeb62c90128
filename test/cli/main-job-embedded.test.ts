import { describeMainJob } from './main-job.ts';

describeMainJob('the embedded log and the embedded store', 'embedded');
