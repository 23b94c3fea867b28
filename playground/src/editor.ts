/// <reference lib="dom" />
// The code editor: CodeMirror 6 with its basic setup, the language's highlighting (swapped in a
// compartment), Tab indenting (Esc then Tab leaves the editor, as CodeMirror documents), and
// Ctrl/Cmd-Enter to run. Its text box is named "Code" for screen readers.
import { indentWithTab } from '@codemirror/commands';
import { Compartment, Prec } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { basicSetup, EditorView } from 'codemirror';
import { languageSupport } from './editor-languages.js';

export interface CodeEditor {
  readonly code: string;
  setCode(code: string): void;
  setLanguage(lang: string | null): void;
  focus(): void;
}

export function createEditor(parent: HTMLElement, options: { code: string; onRun: () => void }): CodeEditor {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    doc: options.code,
    extensions: [
      Prec.highest(
        keymap.of([
          {
            key: 'Mod-Enter',
            run: () => {
              options.onRun();
              return true;
            },
          },
        ]),
      ),
      basicSetup,
      keymap.of([indentWithTab]),
      language.of([]),
      // Long lines wrap: a narrow window never scrolls the code sideways out of sight.
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': 'Code' }),
    ],
  });
  return {
    get code() {
      return view.state.doc.toString();
    },
    setCode(code) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });
    },
    setLanguage(lang) {
      view.dispatch({ effects: language.reconfigure(languageSupport(lang)) });
    },
    focus() {
      view.focus();
    },
  };
}
