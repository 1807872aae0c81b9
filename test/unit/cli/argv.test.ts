import { describe, expect, it } from 'vitest';
import { type FlagSpecs, helpText, parseArgs, UsageError } from '../../../lib/cli/argv.js';

const SPECS: FlagSpecs = {
  source: { value: true, arg: '<kind>', help: 'the kind' },
  set: { value: true, repeat: true, arg: 'KEY=VALUE', help: 'a setting' },
  json: { help: 'print JSON' },
  help: { help: 'show this help' },
};

const usageError = (argv: string[]) => {
  try {
    parseArgs(argv, SPECS);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
};

describe('parseArgs (node:util parseArgs, strict)', () => {
  it('reads values, inline values, booleans, repeatable flags, positionals and `--`', () => {
    const args = parseArgs(
      ['show', '--source', 'dexcomshare', '--set=A=1', '--set', 'B=2', '--json', 'id-1', '--', '--not-a-flag', '-'],
      SPECS,
    );

    expect({ ...args.flags }).toEqual({ source: 'dexcomshare', set: ['A=1', 'B=2'], json: true });
    expect(args.positionals).toEqual(['show', 'id-1', '--not-a-flag', '-']);
  });

  it('keeps an empty inline value and a lone "-" as a value', () => {
    expect({ ...parseArgs(['--source='], SPECS).flags }).toEqual({ source: '' });
    expect({ ...parseArgs(['--source', '-'], SPECS).flags }).toEqual({ source: '-' });
  });

  it('names an unknown flag without echoing its value', () => {
    const message = usageError(['--password=hunter2-secret']);

    expect(message).toBe('unknown option --password; see --help');
    expect(message).not.toContain('hunter2');
  });

  it('rejects single-dash options other than -h', () => {
    expect(usageError(['-x'])).toBe('unknown option -x (options are spelled --name); see --help');
  });

  it.each([
    [['--source'], '--source needs a value <kind>'],
    [['--source', '--json'], '--source needs a value <kind>'],
    [['--source', '-x'], '--source needs a value <kind>'],
    [['--json=yes'], '--json takes no value'],
    [['--source', 'a', '--source=b'], '--source given twice'],
  ])('%j → %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  it('--help or -h wins over everything else on the line (before `--`), so asking for help never fails', () => {
    expect(parseArgs(['--bogus=1', '--source', '--help'], SPECS)).toEqual({ flags: { help: true }, positionals: [] });
    expect(parseArgs(['remove', 'id', '-h'], SPECS)).toEqual({ flags: { help: true }, positionals: [] });
    expect(parseArgs(['--', '--help'], SPECS).positionals).toEqual(['--help']);
  });

  it('has no help shortcut for commands without a help flag', () => {
    expect(() => parseArgs(['--help'], { json: { help: 'x' } })).toThrow('unknown option --help; see --help');
  });
});

describe('helpText', () => {
  it('prints the usage, the description and one aligned line per flag', () => {
    expect(helpText('tool <command>', 'Does things.', SPECS)).toBe(
      [
        'Usage: tool <command>',
        '',
        'Does things.',
        '',
        'Options:',
        '  --source <kind>  the kind',
        '  --set KEY=VALUE  a setting (repeatable)',
        '  --json           print JSON',
        '  -h, --help       show this help',
        '',
      ].join('\n'),
    );
  });
});
