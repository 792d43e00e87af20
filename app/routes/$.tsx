import { data } from '@remix-run/node';
import '../client/shared-chunk'; // one shared chunk with React (ADR 025)

// Any path no route claims: a real 404, rendered by the root error boundary.
export function loader() {
  throw data({ reason: 'not_found' }, { status: 404 });
}

export default function NotFound() {
  return null;
}
