export function DevicesPage(_: { query: URLSearchParams }) { return <h1 tabIndex={-1}>Devices</h1>; }
