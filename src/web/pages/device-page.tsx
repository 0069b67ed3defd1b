export function DevicePage(_: { id: string }) { return <h1 tabIndex={-1}>Device</h1>; }
