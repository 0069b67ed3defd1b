import { useState } from 'preact/hooks';
import { graphErrorOf, serviceRoot } from '../api-client';
import { ErrorMessage } from '../components/error-message';
import { useAsync, type Async } from '../components/use-async';
import { startSession } from '../session';
import { startSignIn, type OAuthConfig } from '../sign-in/pkce';

/** `GET /console/config.json`: which ways to sign in this server offers. */
export interface ConsoleConfig {
  devSignIn: boolean;
  oauth: OAuthConfig | null;
}

/** The server's sign-in configuration (no token needed to read it). */
export function useConsoleConfig(): Async<ConsoleConfig> {
  return useAsync(async () => {
    const response = await fetch(`${serviceRoot}console/config.json`);
    if (!response.ok) throw await graphErrorOf(response);
    return (await response.json()) as ConsoleConfig;
  }, []);
}

/** Sign in: with the identity provider (production) or one click for a dev token (a local server). */
export function SignInPage({ config, problem }: { config: Async<ConsoleConfig>; problem: string | null }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const devSignIn = async () => {
    setBusy(true);
    setError(null);
    try {
      const response = await fetch(`${serviceRoot}console/dev-sign-in`, { method: 'POST' });
      if (!response.ok) throw await graphErrorOf(response);
      const body = (await response.json()) as { accessToken: string; expiresIn: number };
      startSession(body.accessToken, body.expiresIn);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <h1>Teams devices</h1>
      <p>Manage your Microsoft Teams devices: their health, software and operations.</p>
      {problem && <ErrorMessage error={new Error(problem)} />}
      {config.loading && <p aria-live="polite">Loading…</p>}
      <ErrorMessage error={config.error ?? error} />
      {config.value?.oauth && (
        <button type="button" class="primary" onClick={() => void startSignIn(config.value!.oauth!)}>Sign in with your organization</button>
      )}
      {config.value?.devSignIn && (
        <button type="button" class={config.value.oauth ? '' : 'primary'} disabled={busy} onClick={() => void devSignIn()}>
          Sign in with a dev token
        </button>
      )}
      {config.value && !config.value.oauth && !config.value.devSignIn && (
        <p>This server offers no console sign-in: start it with <code>--console-client-id</code> (see the README).</p>
      )}
    </main>
  );
}
