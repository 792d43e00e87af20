import { CAMPAIGN_CHANNEL_LABELS } from '../utils/campaign-words';
import { formatDate } from '../utils/consent-words';

export type SampleRow = { displayName: string; topicName: string; channel: string; expiresAt: string };

/** Named recipients: rendered only from loader data that the 'campaign_recipients' capability produced. */
export function CampaignSamples({ rows, caption, timeZone }: { rows: SampleRow[]; caption: string; timeZone: string }) {
  if (rows.length === 0) return <p>No recipients match.</p>;
  return (
    <table className="access-table">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Patient</th>
          <th scope="col">Topic</th>
          <th scope="col">Channel</th>
          <th scope="col">Authorisation ends</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td>{r.displayName}</td>
            <td>{r.topicName}</td>
            <td>{CAMPAIGN_CHANNEL_LABELS[r.channel] ?? r.channel}</td>
            <td>{formatDate(r.expiresAt, timeZone)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
