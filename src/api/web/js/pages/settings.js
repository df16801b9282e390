// Everyone: change the console password; a user also sets the PIN of their extension (voicemail, hot desk).
import { clear, field, formError, h, notice, submitter } from '../dom.js';
import { ApiError } from '../api.js';
import { t } from '../i18n.js';
import { extensions, me } from '../resources.js';

export function render(main, s) {
  const done = h('div');
  const password = h(
    'form',
    { class: 'grid', id: 'password-form' },
    field(t('settings.current'), 'current', { type: 'password', required: true, autocomplete: 'current-password' }),
    field(t('settings.new'), 'password', { type: 'password', required: true, autocomplete: 'new-password' }),
    field(t('settings.repeat'), 'repeat', { type: 'password', required: true, autocomplete: 'new-password' }),
    formError(),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('settings.changePassword'))),
  );
  submitter(
    password,
    (v) => {
      if (v.password !== v.repeat) throw new ApiError(400, { message: t('settings.mismatch'), field: 'repeat' });
      return me.password(v.current, v.password);
    },
    () => {
      password.reset();
      clear(done, notice(t('settings.passwordChanged')));
    },
  );
  const sections = [h('section', { class: 'card' }, h('h2', {}, t('settings.password')), password)];
  if (s.extension) {
    const pin = h(
      'form',
      { class: 'grid', id: 'pin-form' },
      field(t('settings.pin'), 'pin', { type: 'password', required: true, autocomplete: 'new-password' }),
      formError(),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('settings.changePin'))),
    );
    submitter(
      pin,
      (v) => extensions.setPin(s.extension, v.pin),
      () => {
        pin.reset();
        clear(done, notice(t('settings.pinChanged')));
      },
    );
    sections.push(h('section', { class: 'card' }, h('h2', {}, t('settings.pinTitle', { number: s.extension })), pin));
  }
  clear(main, h('h1', {}, t('nav.settings')), done, sections);
}
