/**
 * The users administration contract (admin only, inside the admin's jurisdiction): TypeBox schemas
 * with their inferred types under the same name.
 */
import { Type, type Static } from 'typebox';
import { USER_ROLES } from './domain';
import { Id, Line, UserDto } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

const Username = Type.String({ minLength: 2, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const DisplayName = Line({ maxLength: 64 });
/** Same rule as a user's own password change. */
const Password = Type.String({ minLength: 10, maxLength: 256 });
const RegionCode = Type.String({ pattern: '^[0-9]{6,24}$' });

/** An account as an administrator sees it. */
export const UserAccount = Type.Object({
  ...UserDto.properties,
  /** False once deactivated: the account can no longer sign in, and its tokens are revoked. */
  active: Type.Boolean(),
  /** Still the seeded demo password (production refuses to start while any active account has it). */
  demoPassword: Type.Boolean(),
});
export type UserAccount = Static<typeof UserAccount>;

export const UserAccountList = Type.Array(UserAccount);
export type UserAccountList = Static<typeof UserAccountList>;

export const UserIdParams = Type.Object({ id: Id() });
export type UserIdParams = Static<typeof UserIdParams>;

export const CreateUserBody = Type.Object(
  {
    username: Username,
    displayName: DisplayName,
    password: Password,
    role: literals(USER_ROLES),
    /** The account's jurisdiction: inside the administrator's own. */
    regionCode: RegionCode,
    /** The field worker this account is (their phone's account), inside that jurisdiction. */
    workerId: Type.Optional(Type.Union([Id(), Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

/**
 * What an administrator may change. Any change but the display name revokes the account's tokens
 * (its user signs in again; open sockets get `session.revoked` and are disconnected).
 */
export const UpdateUserBody = Type.Object(
  {
    active: Type.Optional(Type.Boolean()),
    role: Type.Optional(literals(USER_ROLES)),
    regionCode: Type.Optional(RegionCode),
    password: Type.Optional(Password),
    displayName: Type.Optional(DisplayName),
    workerId: Type.Optional(Type.Union([Id(), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;
