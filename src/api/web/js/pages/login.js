// The login page. After 3 wrong passwords the API locks the account; the page says so in words.
import { ApiError } from '../api.js';
import { clear, field, formError, h, resetErrors } from '../dom.js';
import { t } from '../i18n.js';
import { me } from '../resources.js';

export function render(main, { onLogin }) {
  const error = formError();
  const form = h(
    'form',
    { id: 'login-form' },
    field(t('login.username'), 'username', { required: true, autocomplete: 'username' }),
    field(t('login.password'), 'password', { type: 'password', required: true, autocomplete: 'current-password' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    resetErrors(form);
    try {
      onLogin(await me.login(form.elements.username.value.trim(), form.elements.password.value));
    } catch (err) {
      form.elements.password.value = '';
      if (err instanceof ApiError && err.status === 403) clear(error, h('strong', {}, t('login.locked')), ' ', err.message);
      else if (err instanceof ApiError && err.status === 401) error.textContent = t('login.wrong');
      else error.textContent = err instanceof ApiError ? err.message : t('common.failed', { message: String(err) });
    }
  });
  clear(main, h('section', { class: 'card login' }, h('h1', {}, t('login.title')), form));
  form.elements.username.focus();
}
