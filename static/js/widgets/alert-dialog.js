// AlertDialog: the form behind a banner's Acknowledge and Silence buttons. A
// modal <dialog> (Escape closes it, focus goes back to the button that opened
// it), with who acts (open mode only: with a token the server knows), a
// comment and, to silence, for how long.

import { h, setAttr, setText } from '../dom.js';
import { alertTitle, levelWord, matchersFor, matchersText } from '../model/alerts.js';

export const SILENCE_CHOICES = Object.freeze([
  { minutes: 30, label: '30 minutes' },
  { minutes: 60, label: '1 hour' },
  { minutes: 240, label: '4 hours' },
  { minutes: 1440, label: '1 day' },
  { minutes: 10080, label: '7 days' },
]);
const DEFAULT_MINUTES = 60;
const MAX_NAME = 100;
const MAX_COMMENT = 1000;


export class AlertDialog {
  /** `center`: the AlertCenter; `name`: who acts, as far as the page knows (open mode). */
  constructor({ center, name = '', now = () => Date.now(), doc = globalThis.document } = {}) {
    this.center = center;
    this.now = now;
    this.lastName = name || '';
    this.kind = null;
    this.alert = null;
    this.opener = null;
    this.busy = false;
    this.build(doc);
  }

  build(doc) {
    this.title = h('h2', { id: 'alert-dialog-title' });
    this.subject = h('p', { id: 'alert-dialog-subject', class: 'alert-dialog-subject' });
    this.nameInput = h('input', { name: 'by', type: 'text', maxlength: MAX_NAME, autocomplete: 'name', required: this.center.namesActor });
    this.nameField = h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Your name'), this.nameInput);
    this.nameField.hidden = !this.center.namesActor;
    this.duration = h(
      'select',
      { name: 'duration' },
      SILENCE_CHOICES.map((c) => h('option', { value: String(c.minutes) }, c.label)),
    );
    this.durationField = h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Silence for'), this.duration);
    this.matchers = h('p', { class: 'alert-dialog-matchers' });
    this.comment = h('textarea', { name: 'comment', rows: '2', maxlength: MAX_COMMENT });
    this.commentField = h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Comment (optional)'), this.comment);
    this.error = h('p', { class: 'alert-dialog-error', role: 'alert' });
    this.submitButton = h('button', { type: 'submit', class: 'btn btn-primary' });
    this.cancelButton = h('button', { type: 'button', class: 'btn', onclick: () => this.close() }, 'Cancel');
    this.form = h(
      'form',
      { class: 'alert-form', novalidate: true, onsubmit: (ev) => this.submit(ev) },
      this.title,
      this.subject,
      this.nameField,
      this.durationField,
      this.matchers,
      this.commentField,
      this.error,
      h('div', { class: 'alert-dialog-buttons' }, this.submitButton, this.cancelButton),
    );
    this.el = h(
      'dialog',
      {
        id: 'alert-dialog',
        class: 'alert-dialog',
        'aria-labelledby': 'alert-dialog-title',
        'aria-describedby': 'alert-dialog-subject',
        onkeydown: (ev) => {
          if (ev.key === 'Escape') {
            ev.preventDefault();
            this.close();
          }
        },
        // A native modal closed by the browser (Escape) still gives focus back.
        onclose: () => this.restoreFocus(),
      },
      this.form,
    );
    if (doc && doc.body) doc.body.append(this.el);
  }

  get isOpen() {
    return this.el.hasAttribute('open');
  }

  /**
   * Open for `kind` ('ack' or 'silence') of `alert`. Focus returns to `opener`
   * on close, or to `fallback` if the opener is gone or hidden by then.
   */
  open(kind, alert, opener = null, fallback = null) {
    this.kind = kind;
    this.alert = alert;
    this.opener = opener;
    this.fallback = fallback;
    const silence = kind === 'silence';
    setText(this.title, silence ? 'Silence alert' : 'Acknowledge alert');
    setText(this.subject, `${levelWord(alert.level)}: ${alertTitle(alert)}`);
    setText(this.submitButton, silence ? 'Silence' : 'Acknowledge');
    this.durationField.hidden = !silence;
    this.matchers.hidden = !silence;
    this.silenceMatchers = silence ? matchersFor(alert) : null;
    setText(this.matchers, silence ? `Matches ${matchersText(this.silenceMatchers)}` : '');
    this.duration.value = String(DEFAULT_MINUTES);
    this.nameInput.value = this.lastName;
    this.comment.value = '';
    this.showError('');
    if (typeof this.el.showModal === 'function') {
      if (!this.isOpen) this.el.showModal();
    } else {
      setAttr(this.el, 'open', true);
    }
    const first = this.center.namesActor && !this.lastName ? this.nameInput : silence ? this.duration : this.comment;
    first.focus();
  }

  close() {
    if (!this.isOpen) return;
    if (typeof this.el.close === 'function') this.el.close();
    else {
      setAttr(this.el, 'open', null);
      this.restoreFocus();
    }
  }

  restoreFocus() {
    const usable = (el) => el && el.isConnected !== false && !el.hidden && typeof el.focus === 'function';
    const target = [this.opener, this.fallback].find(usable);
    this.opener = null;
    this.fallback = null;
    if (target) target.focus();
  }

  showError(text) {
    setText(this.error, text);
    this.error.hidden = !text;
  }

  async submit(ev) {
    if (ev && typeof ev.preventDefault === 'function') ev.preventDefault();
    if (this.busy || !this.alert) return;
    const by = String(this.nameInput.value || '').trim();
    if (this.center.namesActor && !by) {
      this.showError('Say who you are: your name is recorded with it.');
      this.nameInput.focus();
      return;
    }
    const comment = String(this.comment.value || '').trim();
    this.busy = true;
    setAttr(this.submitButton, 'disabled', true);
    try {
      if (this.kind === 'silence') {
        const minutes = Number(this.duration.value) || DEFAULT_MINUTES;
        await this.center.silence({
          matchers: this.silenceMatchers,
          until: new Date(this.now() + minutes * 60_000),
          by,
          comment,
        });
      } else {
        await this.center.acknowledge(this.alert.alert_id, { by, comment });
      }
      if (by) this.lastName = by;
      this.close();
    } catch (err) {
      this.showError(err && err.detail ? err.detail : `Not done: ${err && err.message ? err.message : err}`);
    } finally {
      this.busy = false;
      setAttr(this.submitButton, 'disabled', null);
    }
  }
}
