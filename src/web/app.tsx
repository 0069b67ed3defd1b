import { useEffect, useState } from 'preact/hooks';
import { ErrorMessage } from './components/error-message';
import { pages, pageFor } from './pages';
import { useRoute } from './router';
import { currentSession, endSession, onSessionChange, startSession } from './session';
import { completeSignIn } from './sign-in/pkce';
import { SignInPage, useConsoleConfig } from './pages/sign-in-page';

/** The console: the sign-in page until there is a session, then the layout with the page of the route. */
export function App() {
  const [session, setSession] = useState(currentSession);
  const [signInProblem, setSignInProblem] = useState<string | null>(null);
  const config = useConsoleConfig();
  useEffect(() => onSessionChange((reason) => {
    setSession(currentSession());
    if (reason) setSignInProblem(reason);
  }), []);
  // Coming back from the identity provider: the code (or its error) is in the query string.
  useEffect(() => {
    if (!config.value?.oauth) return;
    void completeSignIn(config.value.oauth, new URLSearchParams(location.search)).then((outcome) => {
      if (outcome instanceof Error) setSignInProblem(outcome.message);
      else if (outcome) startSession(outcome.accessToken, outcome.expiresIn);
    });
  }, [config.value]);
  if (!session) return <SignInPage config={config} problem={signInProblem} />;
  return <Layout />;
}

function Layout() {
  const route = useRoute();
  const match = pageFor(route.path);
  useEffect(() => {
    document.title = `${match?.page.title ?? 'Not found'} · Teams devices`;
    // Keyboard and screen-reader users land on the new page's heading, not on the link they left.
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route.path]);
  return (
    <div class="layout">
      <a class="skip-link" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top-bar">
        <span class="brand">Teams devices</span>
        <nav aria-label="Console">
          <ul>
            {pages.filter((page) => page.nav).map((page) => (
              <li key={page.pattern}>
                <a href={`#${page.pattern}`} aria-current={match?.page === page ? 'page' : undefined}>{page.title}</a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="sign-out" onClick={() => endSession()}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        {match ? match.page.render(match.params, route.query) : (
          <>
            <h1 tabIndex={-1}>Not found</h1>
            <ErrorMessage error={new Error(`The console has no page at ${route.path}.`)} />
          </>
        )}
      </main>
    </div>
  );
}
