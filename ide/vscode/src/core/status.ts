// What the status bar says, as data: the extension adapter only copies `text`, `tooltip`
// and `isError` onto a StatusBarItem.

export type StatusState =
  | { kind: "ready" }
  | { kind: "generating" }
  | { kind: "error"; message: string }
  | { kind: "disabled"; reason: string };

export interface StatusSink {
  set(state: StatusState): void;
}

export interface StatusView {
  text: string;
  tooltip: string;
  isError: boolean;
}

/** Longest server message shown in the status bar itself; the tooltip has all of it. */
const STATUS_MESSAGE_CHARS = 48;

export function describeStatus(state: StatusState, serverUrl: string): StatusView {
  switch (state.kind) {
    case "ready":
      return { text: "$(sparkle) codemill", tooltip: `codemill: ready (${serverUrl}). Click to toggle.`, isError: false };
    case "generating":
      return { text: "$(loading~spin) codemill", tooltip: `codemill: generating (${serverUrl})`, isError: false };
    case "error":
      return {
        text: `$(warning) codemill: ${shorten(state.message, STATUS_MESSAGE_CHARS)}`,
        tooltip: `codemill: ${state.message}\nServer: ${serverUrl}. See the "codemill" output channel.`,
        isError: true,
      };
    case "disabled":
      return { text: "$(circle-slash) codemill", tooltip: `codemill: off (${state.reason}). Click to toggle.`, isError: false };
  }
}

function shorten(message: string, max: number): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
