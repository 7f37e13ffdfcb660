/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation CreateTenant($slug: String!, $name: String!, $adminEmail: String!, $adminPassword: String!) {\n    createTenant(input: { slug: $slug, name: $name, adminEmail: $adminEmail, adminPassword: $adminPassword }) {\n      result { accessToken refreshToken }\n    }\n  }\n": typeof types.CreateTenantDocument,
    "\n  mutation Login($tenantSlug: String!, $email: String!, $password: String!) {\n    login(input: { tenantSlug: $tenantSlug, email: $email, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n": typeof types.LoginDocument,
    "\n  mutation AcceptInvitation($token: String!, $name: String!, $password: String!) {\n    acceptInvitation(input: { token: $token, name: $name, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n": typeof types.AcceptInvitationDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refresh(input: { refreshToken: $refreshToken }) {\n      result { accessToken refreshToken }\n    }\n  }\n": typeof types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(input: { refreshToken: $refreshToken }) { result }\n  }\n": typeof types.LogoutDocument,
    "\n  mutation ForgotPassword($tenantSlug: String!, $email: String!) {\n    forgotPassword(input: { tenantSlug: $tenantSlug, email: $email }) { result }\n  }\n": typeof types.ForgotPasswordDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(input: { token: $token, newPassword: $newPassword }) { result }\n  }\n": typeof types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(input: { token: $token }) { result }\n  }\n": typeof types.VerifyEmailDocument,
    "\n  mutation SendVerificationEmail {\n    sendVerificationEmail(input: {}) { result }\n  }\n": typeof types.SendVerificationEmailDocument,
    "\n  query Me {\n    currentUser { rowId name email role emailVerifiedAt }\n    currentTenant { name slug }\n  }\n": typeof types.MeDocument,
    "\n  query Tasks($first: Int, $after: Cursor, $last: Int, $before: Cursor) {\n    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {\n      totalCount\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      nodes { id title status project { name } }\n    }\n  }\n": typeof types.TasksDocument,
    "\n  query Projects {\n    projects(orderBy: [NAME_ASC]) { nodes { rowId name } }\n  }\n": typeof types.ProjectsDocument,
    "\n  mutation CreateProject($name: String!) {\n    createProject(input: { project: { name: $name } }) { project { rowId name } }\n  }\n": typeof types.CreateProjectDocument,
    "\n  mutation CreateTask($projectId: UUID!, $title: String!, $status: TaskStatus) {\n    createTask(input: { task: { projectId: $projectId, title: $title, status: $status } }) {\n      task { id title status }\n    }\n  }\n": typeof types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $patch: TaskPatch!) {\n    updateTask(input: { id: $id, patch: $patch }) { task { id title status } }\n  }\n": typeof types.UpdateTaskDocument,
    "\n  query Members {\n    users(orderBy: [NAME_ASC]) { nodes { rowId name email role emailVerifiedAt } }\n  }\n": typeof types.MembersDocument,
    "\n  mutation InviteUser($email: String!, $role: UserRole!) {\n    inviteUser(input: { email: $email, role: $role }) { result { token expiresAt } }\n  }\n": typeof types.InviteUserDocument,
};
const documents: Documents = {
    "\n  mutation CreateTenant($slug: String!, $name: String!, $adminEmail: String!, $adminPassword: String!) {\n    createTenant(input: { slug: $slug, name: $name, adminEmail: $adminEmail, adminPassword: $adminPassword }) {\n      result { accessToken refreshToken }\n    }\n  }\n": types.CreateTenantDocument,
    "\n  mutation Login($tenantSlug: String!, $email: String!, $password: String!) {\n    login(input: { tenantSlug: $tenantSlug, email: $email, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n": types.LoginDocument,
    "\n  mutation AcceptInvitation($token: String!, $name: String!, $password: String!) {\n    acceptInvitation(input: { token: $token, name: $name, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n": types.AcceptInvitationDocument,
    "\n  mutation Refresh($refreshToken: String!) {\n    refresh(input: { refreshToken: $refreshToken }) {\n      result { accessToken refreshToken }\n    }\n  }\n": types.RefreshDocument,
    "\n  mutation Logout($refreshToken: String!) {\n    logout(input: { refreshToken: $refreshToken }) { result }\n  }\n": types.LogoutDocument,
    "\n  mutation ForgotPassword($tenantSlug: String!, $email: String!) {\n    forgotPassword(input: { tenantSlug: $tenantSlug, email: $email }) { result }\n  }\n": types.ForgotPasswordDocument,
    "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(input: { token: $token, newPassword: $newPassword }) { result }\n  }\n": types.ResetPasswordDocument,
    "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(input: { token: $token }) { result }\n  }\n": types.VerifyEmailDocument,
    "\n  mutation SendVerificationEmail {\n    sendVerificationEmail(input: {}) { result }\n  }\n": types.SendVerificationEmailDocument,
    "\n  query Me {\n    currentUser { rowId name email role emailVerifiedAt }\n    currentTenant { name slug }\n  }\n": types.MeDocument,
    "\n  query Tasks($first: Int, $after: Cursor, $last: Int, $before: Cursor) {\n    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {\n      totalCount\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      nodes { id title status project { name } }\n    }\n  }\n": types.TasksDocument,
    "\n  query Projects {\n    projects(orderBy: [NAME_ASC]) { nodes { rowId name } }\n  }\n": types.ProjectsDocument,
    "\n  mutation CreateProject($name: String!) {\n    createProject(input: { project: { name: $name } }) { project { rowId name } }\n  }\n": types.CreateProjectDocument,
    "\n  mutation CreateTask($projectId: UUID!, $title: String!, $status: TaskStatus) {\n    createTask(input: { task: { projectId: $projectId, title: $title, status: $status } }) {\n      task { id title status }\n    }\n  }\n": types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $patch: TaskPatch!) {\n    updateTask(input: { id: $id, patch: $patch }) { task { id title status } }\n  }\n": types.UpdateTaskDocument,
    "\n  query Members {\n    users(orderBy: [NAME_ASC]) { nodes { rowId name email role emailVerifiedAt } }\n  }\n": types.MembersDocument,
    "\n  mutation InviteUser($email: String!, $role: UserRole!) {\n    inviteUser(input: { email: $email, role: $role }) { result { token expiresAt } }\n  }\n": types.InviteUserDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTenant($slug: String!, $name: String!, $adminEmail: String!, $adminPassword: String!) {\n    createTenant(input: { slug: $slug, name: $name, adminEmail: $adminEmail, adminPassword: $adminPassword }) {\n      result { accessToken refreshToken }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTenant($slug: String!, $name: String!, $adminEmail: String!, $adminPassword: String!) {\n    createTenant(input: { slug: $slug, name: $name, adminEmail: $adminEmail, adminPassword: $adminPassword }) {\n      result { accessToken refreshToken }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($tenantSlug: String!, $email: String!, $password: String!) {\n    login(input: { tenantSlug: $tenantSlug, email: $email, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n"): (typeof documents)["\n  mutation Login($tenantSlug: String!, $email: String!, $password: String!) {\n    login(input: { tenantSlug: $tenantSlug, email: $email, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AcceptInvitation($token: String!, $name: String!, $password: String!) {\n    acceptInvitation(input: { token: $token, name: $name, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n"): (typeof documents)["\n  mutation AcceptInvitation($token: String!, $name: String!, $password: String!) {\n    acceptInvitation(input: { token: $token, name: $name, password: $password }) {\n      result { accessToken refreshToken }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refresh($refreshToken: String!) {\n    refresh(input: { refreshToken: $refreshToken }) {\n      result { accessToken refreshToken }\n    }\n  }\n"): (typeof documents)["\n  mutation Refresh($refreshToken: String!) {\n    refresh(input: { refreshToken: $refreshToken }) {\n      result { accessToken refreshToken }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout($refreshToken: String!) {\n    logout(input: { refreshToken: $refreshToken }) { result }\n  }\n"): (typeof documents)["\n  mutation Logout($refreshToken: String!) {\n    logout(input: { refreshToken: $refreshToken }) { result }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ForgotPassword($tenantSlug: String!, $email: String!) {\n    forgotPassword(input: { tenantSlug: $tenantSlug, email: $email }) { result }\n  }\n"): (typeof documents)["\n  mutation ForgotPassword($tenantSlug: String!, $email: String!) {\n    forgotPassword(input: { tenantSlug: $tenantSlug, email: $email }) { result }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(input: { token: $token, newPassword: $newPassword }) { result }\n  }\n"): (typeof documents)["\n  mutation ResetPassword($token: String!, $newPassword: String!) {\n    resetPassword(input: { token: $token, newPassword: $newPassword }) { result }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(input: { token: $token }) { result }\n  }\n"): (typeof documents)["\n  mutation VerifyEmail($token: String!) {\n    verifyEmail(input: { token: $token }) { result }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendVerificationEmail {\n    sendVerificationEmail(input: {}) { result }\n  }\n"): (typeof documents)["\n  mutation SendVerificationEmail {\n    sendVerificationEmail(input: {}) { result }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    currentUser { rowId name email role emailVerifiedAt }\n    currentTenant { name slug }\n  }\n"): (typeof documents)["\n  query Me {\n    currentUser { rowId name email role emailVerifiedAt }\n    currentTenant { name slug }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tasks($first: Int, $after: Cursor, $last: Int, $before: Cursor) {\n    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {\n      totalCount\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      nodes { id title status project { name } }\n    }\n  }\n"): (typeof documents)["\n  query Tasks($first: Int, $after: Cursor, $last: Int, $before: Cursor) {\n    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {\n      totalCount\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      nodes { id title status project { name } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Projects {\n    projects(orderBy: [NAME_ASC]) { nodes { rowId name } }\n  }\n"): (typeof documents)["\n  query Projects {\n    projects(orderBy: [NAME_ASC]) { nodes { rowId name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateProject($name: String!) {\n    createProject(input: { project: { name: $name } }) { project { rowId name } }\n  }\n"): (typeof documents)["\n  mutation CreateProject($name: String!) {\n    createProject(input: { project: { name: $name } }) { project { rowId name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($projectId: UUID!, $title: String!, $status: TaskStatus) {\n    createTask(input: { task: { projectId: $projectId, title: $title, status: $status } }) {\n      task { id title status }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTask($projectId: UUID!, $title: String!, $status: TaskStatus) {\n    createTask(input: { task: { projectId: $projectId, title: $title, status: $status } }) {\n      task { id title status }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateTask($id: ID!, $patch: TaskPatch!) {\n    updateTask(input: { id: $id, patch: $patch }) { task { id title status } }\n  }\n"): (typeof documents)["\n  mutation UpdateTask($id: ID!, $patch: TaskPatch!) {\n    updateTask(input: { id: $id, patch: $patch }) { task { id title status } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Members {\n    users(orderBy: [NAME_ASC]) { nodes { rowId name email role emailVerifiedAt } }\n  }\n"): (typeof documents)["\n  query Members {\n    users(orderBy: [NAME_ASC]) { nodes { rowId name email role emailVerifiedAt } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation InviteUser($email: String!, $role: UserRole!) {\n    inviteUser(input: { email: $email, role: $role }) { result { token expiresAt } }\n  }\n"): (typeof documents)["\n  mutation InviteUser($email: String!, $role: UserRole!) {\n    inviteUser(input: { email: $email, role: $role }) { result { token expiresAt } }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;