/** Day, month and year fields to YYYY-MM-DD, or undefined when they do not make a real date (OT5 "code plus date of birth"). */
export function dateOfBirthFrom(form: FormData): string | undefined {
  const [day = NaN, month = NaN, year = NaN] = ['dobDay', 'dobMonth', 'dobYear'].map((k) => Number(String(form.get(k) ?? '').trim()));
  if (!Number.isInteger(day) || !Number.isInteger(month) || !Number.isInteger(year) || year < 1900 || year > 2100) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return undefined;
  return date.toISOString().slice(0, 10);
}
