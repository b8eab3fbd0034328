/** Whether the tests run under CI (CI=true): there, a missing system part fails instead of skipping. */
export const underCi = (): boolean => !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
