/** CONNECT_* and CONFIG_GET_AUTH_ATTR: protocol version and client authentication. */
import { AuthType, NDMP_VERSION, NdmpErr } from '../codec/constants.js';
import { checkMd5, checkText, newChallenge } from '../auth.js';
import type { HandlerTable, SessionContext } from './context.js';

export class AuthState {
  authorized = false;
  opened = false;
  /** The challenge of the last CONFIG_GET_AUTH_ATTR(MD5); used once. */
  challenge: Buffer | null = null;
}

export function connectHandlers(s: SessionContext, auth: AuthState): HandlerTable {
  const users = s.server.config.users;
  return {
    CONNECT_OPEN: ({ protocol_version }) => {
      if (protocol_version !== NDMP_VERSION) return { error: NdmpErr.ILLEGAL_ARGS };
      auth.opened = true;
      return { error: NdmpErr.NO_ERR };
    },
    CONFIG_GET_AUTH_ATTR: ({ auth_type }) => {
      if (auth_type === AuthType.MD5) {
        auth.challenge = newChallenge();
        return { error: NdmpErr.NO_ERR, server_attr: { type: AuthType.MD5, body: auth.challenge } };
      }
      if (auth_type === AuthType.TEXT) return { error: NdmpErr.NO_ERR, server_attr: { type: AuthType.TEXT, body: undefined } };
      if (auth_type === AuthType.NONE && s.server.config.allowNoneAuth) return { error: NdmpErr.NO_ERR, server_attr: { type: AuthType.NONE, body: undefined } };
      return { error: NdmpErr.ILLEGAL_ARGS, server_attr: { type: AuthType.NONE, body: undefined } };
    },
    CONNECT_CLIENT_AUTH: ({ auth_data }) => {
      let ok = false;
      let who = '';
      if (auth_data.type === AuthType.TEXT) {
        who = auth_data.body.auth_id;
        ok = checkText(users, who, auth_data.body.auth_password);
      } else if (auth_data.type === AuthType.MD5) {
        who = auth_data.body.auth_id;
        const challenge = auth.challenge;
        auth.challenge = null;
        ok = challenge !== null && checkMd5(users, who, auth_data.body.auth_digest, challenge);
      } else if (auth_data.type === AuthType.NONE) {
        if (!s.server.config.allowNoneAuth) return { error: NdmpErr.NOT_AUTHORIZED };
        ok = true;
      } else {
        return { error: NdmpErr.ILLEGAL_ARGS };
      }
      if (!ok) {
        s.log(`authentication failed for "${who}"`);
        return { error: NdmpErr.NOT_AUTHORIZED };
      }
      auth.authorized = true;
      return { error: NdmpErr.NO_ERR };
    },
  };
}
