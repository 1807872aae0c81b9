/**
 * Merging one section's figures into an existing results file, so `npm run bench -- --only sources` refreshes the
 * per-source figures without dropping (or pretending to re-measure) the other sections. The top-level date, plan
 * and machine keep describing the run that measured the rest; the section's own date, plan and machine go under
 * `sections.<name>`.
 */

export interface ResultsFigure {
  id: string;
}

export interface ResultsFile {
  figures: ResultsFigure[];
  details?: Record<string, unknown>;
  sections?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface SectionRun {
  /** Section name: the figure id prefix (`<name>.`), and the key under `details` and `sections` unless `key` is given. */
  name: string;
  key?: string;
  figures: ResultsFigure[];
  details: unknown;
  /** When and how this section was measured (date, mode, plan, machine, seconds). */
  run: Record<string, unknown>;
}

/**
 * The existing file with the section's figures and details replaced (figures of other sections keep their order;
 * the section's figures go where its old ones were, or at the end). With no existing file, a file holding only
 * this section, its run facts also at the top level.
 */
export function mergeSection(existing: ResultsFile | undefined, section: SectionRun): ResultsFile {
  const prefix = `${section.name}.`;
  const key = section.key ?? section.name;
  const ours = (f: ResultsFigure) => f.id.startsWith(prefix);
  for (const f of section.figures) {
    if (!ours(f))
      throw new Error(`figure ${f.id} does not belong to section ${section.name} (ids start with "${prefix}")`);
  }
  if (!existing) {
    return {
      ...section.run,
      figures: section.figures,
      details: { [key]: section.details },
      sections: { [key]: section.run },
    };
  }
  const at = existing.figures.findIndex(ours);
  const others = existing.figures.filter((f) => !ours(f));
  const insertAt = at < 0 ? others.length : existing.figures.slice(0, at).filter((f) => !ours(f)).length;
  return {
    ...existing,
    figures: [...others.slice(0, insertAt), ...section.figures, ...others.slice(insertAt)],
    details: { ...existing.details, [key]: section.details },
    sections: { ...existing.sections, [key]: section.run },
  };
}
