import type { HeadroomResult } from "../commands/headroom.js";
export function headroomToHtml(r: HeadroomResult): string {
  return `<!doctype html><pre>${JSON.stringify(r.summary)}</pre>\n`;
}
