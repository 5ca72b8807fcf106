// JavaScript strings are UTF-16: cutting one at an arbitrary index can split a surrogate pair
// (an emoji, a CJK extension character) and leave half of it at the edge. JSON.stringify
// sends such a half as a lone "\udXXX" escape, which the server cannot encode as UTF-8.

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** Drops the second half of a pair left at the start of a cut. */
export function trimCutStart(text: string): string {
  return text.length > 0 && isLowSurrogate(text.charCodeAt(0)) ? text.slice(1) : text;
}

/** Drops the first half of a pair left at the end of a cut. */
export function trimCutEnd(text: string): string {
  return text.length > 0 && isHighSurrogate(text.charCodeAt(text.length - 1)) ? text.slice(0, -1) : text;
}
