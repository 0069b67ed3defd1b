import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal confirmation (the browser's own <dialog>: focus moves into it and stays there,
 * Escape cancels). `onConfirm` runs on the confirming button; the dialog closes either way.
 */
export function ConfirmDialog({ title, confirmLabel, danger, children, onConfirm, onClose }: {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  children?: ComponentChildren;
  onConfirm(): void;
  onClose(): void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="dialog-title" onClose={onClose}>
      <form method="dialog" onSubmit={(event) => { event.preventDefault(); onConfirm(); dialog.current?.close(); }}>
        <h2 id="dialog-title">{title}</h2>
        {children}
        <div class="dialog-buttons">
          <button type="button" onClick={() => dialog.current?.close()}>Cancel</button>
          <button type="submit" class={danger ? 'danger' : 'primary'}>{confirmLabel}</button>
        </div>
      </form>
    </dialog>
  );
}
