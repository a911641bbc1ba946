/** Queue and job names: the only place they are spelled. */
export const QUEUE = { sweep: 'sweep', deliver: 'deliver' } as const;
export const JOB = { sweep: 'sweep', deliver: 'deliver' } as const;
export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];
