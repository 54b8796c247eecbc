// The gateway's REST API: every call carries the signed-in token; a refused token asks for a new one and
// retries, an unreachable server shows a banner and retries, so nothing the user did is lost meanwhile.

export type Json = Record<string, any>;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const TOKEN_KEY = 'radlab.token';
const RETRY_MS = 2000;

let signInWaiters: Array<(token: string) => void> = [];

/** The token: from the page address (`#token=…`, then removed from the address) or this tab's storage. */
export function token(): string {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    fragment.delete('token');
    history.replaceState(null, '', location.pathname + location.search + (fragment.toString() ? `#${fragment}` : ''));
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** Asks the user for a token (the dialog in index.html) and resolves once one is given. */
function signIn(why: string): Promise<string> {
  const dialog = document.getElementById('sign-in') as HTMLDialogElement;
  document.getElementById('sign-in-why')!.textContent = why;
  const waiting = new Promise<string>((resolve) => signInWaiters.push(resolve));
  if (!dialog.open) {
    dialog.showModal();
    dialog.onclose = () => {
      const value = (document.getElementById('sign-in-token') as HTMLTextAreaElement).value.trim();
      if (!value) {
        dialog.showModal();
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
      const waiters = signInWaiters;
      signInWaiters = [];
      waiters.forEach((resolve) => resolve(value));
    };
  }
  return waiting;
}

export function banner(message: string | null): void {
  const element = document.getElementById('banner')!;
  element.hidden = message === null;
  element.textContent = message ?? '';
}

/** fetch with the token; 401 → sign in again and repeat, network failure → banner and repeat until it answers. */
async function send(path: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const headers = new Headers(init.headers);
    const bearer = token();
    if (bearer) headers.set('Authorization', `Bearer ${bearer}`);
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch {
      banner('The Radlab server cannot be reached; your edits are kept in this page and the request is retried.');
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      continue;
    }
    if (response.status === 503 || response.status === 502 || response.status === 504) {
      banner(`The Radlab server is unavailable (${response.status}); retrying, your edits are kept.`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      continue;
    }
    banner(null);
    if (response.status === 401) {
      const body = await response.json().catch(() => ({ message: '' }));
      await signIn(`Your sign-in is no longer accepted (${body.message || 'expired or revoked token'}). ` +
        'Paste a new token; unsaved edits are kept and the request is repeated.');
      continue;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError(response.status, body.code ?? String(response.status), body.message ?? response.statusText);
    }
    return response;
  }
}

/** One RPC of a service through the gateway, e.g. rpc('annotation', 'ListDatasets', {}). */
export async function rpc<T = Json>(service: string, method: string, request: Json = {}): Promise<T> {
  const response = await send(`/api/v1/${service}/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  return (await response.json()) as T;
}

export interface Me {
  subject: string;
  role: string;
  tenant: string;
  vendor: string;
}

export async function me(): Promise<Me> {
  if (!token()) await signIn('Sign in with a Radlab token (radlab token create --role annotator).');
  return (await send('/api/v1/me')).json();
}

export interface VoxelBlock {
  dtype: string;
  shape: number[];
  bytes: ArrayBuffer;
}

/** Raw voxels of slices [first, first + count) of one time point (count 0: to the end). */
export async function volumeData(volumeId: string, first: number, count: number, time = 0): Promise<VoxelBlock> {
  const query = new URLSearchParams({ time_index: String(time), first_slice: String(first), slice_count: String(count) });
  const response = await send(`/api/v1/volumes/${encodeURIComponent(volumeId)}/data?${query}`);
  return {
    dtype: response.headers.get('X-Radlab-Dtype') ?? 'int16',
    shape: (response.headers.get('X-Radlab-Shape') ?? '').split(',').map(Number),
    bytes: await response.arrayBuffer(),
  };
}

/** A PNG of the item's thumbnail as a data URL (empty when there is none yet). */
export async function thumbnail(volumeId: string): Promise<string> {
  try {
    const answer = await rpc('ingestion', 'GetThumbnail', { volumeId, maxSize: 96 });
    return answer.png ? `data:image/png;base64,${answer.png}` : '';
  } catch {
    return '';
  }
}
