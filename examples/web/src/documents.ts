// Every GraphQL operation the app runs, in one place. `npm run codegen`
// types each one (src/gql/) and lists it in src/gql/persisted-documents.json,
// the trusted documents the API runs with TRUSTED_DOCUMENTS; a document
// added here is refused by such an API until that file is redeployed.
import { graphql } from "./gql/index.ts";

// --- Sessions: these run without an access token -------------------------

export const CreateTenant = graphql(`
  mutation CreateTenant($slug: String!, $name: String!, $adminEmail: String!, $adminPassword: String!) {
    createTenant(input: { slug: $slug, name: $name, adminEmail: $adminEmail, adminPassword: $adminPassword }) {
      result { accessToken refreshToken }
    }
  }
`);

export const Login = graphql(`
  mutation Login($tenantSlug: String!, $email: String!, $password: String!) {
    login(input: { tenantSlug: $tenantSlug, email: $email, password: $password }) {
      result { accessToken refreshToken }
    }
  }
`);

export const AcceptInvitation = graphql(`
  mutation AcceptInvitation($token: String!, $name: String!, $password: String!) {
    acceptInvitation(input: { token: $token, name: $name, password: $password }) {
      result { accessToken refreshToken }
    }
  }
`);

export const Refresh = graphql(`
  mutation Refresh($refreshToken: String!) {
    refresh(input: { refreshToken: $refreshToken }) {
      result { accessToken refreshToken }
    }
  }
`);

export const Logout = graphql(`
  mutation Logout($refreshToken: String!) {
    logout(input: { refreshToken: $refreshToken }) { result }
  }
`);

// --- Account recovery and email verification --------------------------------
// The API's emails link to PUBLIC_URL/reset-password?token=… and
// PUBLIC_URL/verify-email?token=… (src/main.ts routes them).

export const ForgotPassword = graphql(`
  mutation ForgotPassword($tenantSlug: String!, $email: String!) {
    forgotPassword(input: { tenantSlug: $tenantSlug, email: $email }) { result }
  }
`);

export const ResetPassword = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(input: { token: $token, newPassword: $newPassword }) { result }
  }
`);

/** Works logged in or not; sent without a token (the token in the link is the proof). */
export const VerifyEmail = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(input: { token: $token }) { result }
  }
`);

/** Needs the signed-in user. */
export const SendVerificationEmail = graphql(`
  mutation SendVerificationEmail {
    sendVerificationEmail(input: {}) { result }
  }
`);

/** Operations sent without the Authorization header. */
export const ANONYMOUS_OPERATIONS = new Set(["CreateTenant", "Login", "AcceptInvitation", "Refresh", "Logout", "ForgotPassword", "ResetPassword", "VerifyEmail"]);

// --- The signed-in user ---------------------------------------------------

export const Me = graphql(`
  query Me {
    currentUser { rowId name email role emailVerifiedAt }
    currentTenant { name slug }
  }
`);

// --- Tasks ------------------------------------------------------------------

export const Tasks = graphql(`
  query Tasks($first: Int, $after: Cursor, $last: Int, $before: Cursor) {
    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { id title status project { name } }
    }
  }
`);

export const Projects = graphql(`
  query Projects {
    projects(orderBy: [NAME_ASC]) { nodes { rowId name } }
  }
`);

export const CreateProject = graphql(`
  mutation CreateProject($name: String!) {
    createProject(input: { project: { name: $name } }) { project { rowId name } }
  }
`);

export const CreateTask = graphql(`
  mutation CreateTask($projectId: UUID!, $title: String!, $status: TaskStatus) {
    createTask(input: { task: { projectId: $projectId, title: $title, status: $status } }) {
      task { id title status }
    }
  }
`);

export const UpdateTask = graphql(`
  mutation UpdateTask($id: ID!, $patch: TaskPatch!) {
    updateTask(input: { id: $id, patch: $patch }) { task { id title status } }
  }
`);

// --- Members ------------------------------------------------------------------

export const Members = graphql(`
  query Members {
    users(orderBy: [NAME_ASC]) { nodes { rowId name email role emailVerifiedAt } }
  }
`);

export const InviteUser = graphql(`
  mutation InviteUser($email: String!, $role: UserRole!) {
    inviteUser(input: { email: $email, role: $role }) { result { token expiresAt } }
  }
`);
