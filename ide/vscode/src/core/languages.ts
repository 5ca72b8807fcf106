// VS Code language ids by file extension, for callers that have a path but no editor (the CLI).
const BY_EXTENSION: Record<string, string> = {
  py: "python", pyi: "python", js: "javascript", mjs: "javascript", cjs: "javascript", jsx: "javascriptreact",
  ts: "typescript", mts: "typescript", cts: "typescript", tsx: "typescriptreact", java: "java", c: "c", h: "c",
  cc: "cpp", cpp: "cpp", cxx: "cpp", hpp: "cpp", hh: "cpp", cs: "csharp", go: "go", rs: "rust", rb: "ruby",
  php: "php", kt: "kotlin", kts: "kotlin", scala: "scala", swift: "swift", lua: "lua", sh: "shellscript",
  bash: "shellscript", sql: "sql", r: "r", jl: "julia", md: "markdown", json: "json", yaml: "yaml",
  yml: "yaml", toml: "toml", html: "html", css: "css", scss: "scss", vue: "vue", dart: "dart",
};

export function languageIdForPath(path: string): string {
  const name = path.replace(/\\/g, "/").split("/").pop() ?? "";
  if (name === "Makefile" || name === "makefile") return "makefile";
  if (name === "Dockerfile") return "dockerfile";
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "plaintext";
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? "plaintext";
}
