// A small, pure IAM identity-policy evaluator for tests: enough of AWS's rules to check that the policy
// `ferry iam-policy` generates allows every S3 request Ferry makes (recorded by s3-recording-proxy.ts),
// and that each of its grants is used. Not AWS: one identity policy, no bucket policies, no NotAction /
// NotResource / policy variables other than the literal-character escapes. Anything else in a policy
// throws, so a test never passes on a rule this evaluator silently ignores.

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Partial<Record<ConditionOperator, Record<string, string | string[]>>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export type ConditionOperator = 'StringLike' | 'StringEquals';

/** One authorization request: what a single S3 call needs (a call may need several). */
export interface IamRequest {
  action: string;
  resource: string;
  /** Condition keys S3 sets for this request, e.g. `s3:prefix` for ListBucket. */
  context?: Record<string, string>;
}

/** The parts of one statement a request matched: which of its actions, resources and condition values. */
export interface StatementMatch {
  index: number;
  sid: string | undefined;
  actions: string[];
  resources: string[];
  /** `Operator key` → the values that matched, e.g. `StringLike s3:prefix` → ['ferry/receipts/*']. */
  conditionValues: Record<string, string[]>;
}

export type IamDecision =
  | { allowed: true; allowedBy: StatementMatch[] }
  | { allowed: false; reason: 'explicit-deny'; deniedBy: StatementMatch[] }
  | { allowed: false; reason: 'implicit-deny' };

const OPERATORS: readonly string[] = ['StringLike', 'StringEquals'];
const STATEMENT_FIELDS: readonly string[] = ['Sid', 'Effect', 'Action', 'Resource', 'Condition'];

/**
 * AWS's order: an explicit Deny wins, else any matching Allow allows, else the request is implicitly
 * denied. Actions match case-insensitively, resources and condition values case-sensitively; `*` and `?`
 * are wildcards in actions, resources and StringLike values; `${*}`, `${?}`, `${$}` are the literal
 * characters. A condition key absent from the request's context fails its condition (no `IfExists`).
 */
export function evaluateIam(policy: PolicyDocument, request: IamRequest): IamDecision {
  const matches = policy.Statement.map((statement, index) => matchStatement(statement, index, request));
  const denied = matches.filter((m, i) => m !== undefined && policy.Statement[i]!.Effect === 'Deny');
  if (denied.length > 0) {
    return { allowed: false, reason: 'explicit-deny', deniedBy: denied as StatementMatch[] };
  }
  const allowed = matches.filter((m, i) => m !== undefined && policy.Statement[i]!.Effect === 'Allow');
  if (allowed.length > 0) return { allowed: true, allowedBy: allowed as StatementMatch[] };
  return { allowed: false, reason: 'implicit-deny' };
}

/**
 * The grants of a policy no request used: every Allow statement's action, resource and condition value
 * that no decision in `decisions` matched through, as readable lines (`Sid: action s3:PutObject`).
 */
export function unusedGrants(policy: PolicyDocument, decisions: readonly IamDecision[]): string[] {
  const used = new Set<string>();
  for (const decision of decisions) {
    if (!decision.allowed) continue;
    for (const m of decision.allowedBy) {
      for (const a of m.actions) used.add(`${m.index} action ${a}`);
      for (const r of m.resources) used.add(`${m.index} resource ${r}`);
      for (const [key, values] of Object.entries(m.conditionValues)) {
        for (const v of values) used.add(`${m.index} condition ${key} ${v}`);
      }
    }
  }
  const unused: string[] = [];
  policy.Statement.forEach((s, index) => {
    if (s.Effect !== 'Allow') return;
    const name = s.Sid ?? `#${index}`;
    for (const a of list(s.Action)) {
      if (!used.has(`${index} action ${a}`)) unused.push(`${name}: action ${a}`);
    }
    for (const r of list(s.Resource)) {
      if (!used.has(`${index} resource ${r}`)) unused.push(`${name}: resource ${r}`);
    }
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      for (const [key, values] of Object.entries(keys ?? {})) {
        for (const v of list(values)) {
          if (!used.has(`${index} condition ${operator} ${key} ${v}`)) {
            unused.push(`${name}: condition ${operator} ${key} ${v}`);
          }
        }
      }
    }
  });
  return unused;
}

function matchStatement(
  statement: PolicyStatement,
  index: number,
  request: IamRequest,
): StatementMatch | undefined {
  for (const field of Object.keys(statement)) {
    if (!STATEMENT_FIELDS.includes(field)) {
      throw new Error(`iam-evaluator: unsupported statement field ${field}`);
    }
  }
  const actions = list(statement.Action).filter((a) =>
    wildcardMatch(a.toLowerCase(), request.action.toLowerCase()),
  );
  if (actions.length === 0) return undefined;
  const resources = list(statement.Resource).filter((r) => wildcardMatch(r, request.resource));
  if (resources.length === 0) return undefined;
  const conditionValues: Record<string, string[]> = {};
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    if (!OPERATORS.includes(operator)) {
      throw new Error(`iam-evaluator: unsupported condition operator ${operator}`);
    }
    for (const [key, values] of Object.entries(keys ?? {})) {
      const actual = request.context?.[key];
      if (actual === undefined) return undefined;
      const matched = list(values).filter((v) =>
        operator === 'StringLike' ? wildcardMatch(v, actual) : unescapeLiterals(v) === actual,
      );
      if (matched.length === 0) return undefined;
      conditionValues[`${operator} ${key}`] = matched;
    }
  }
  return { index, sid: statement.Sid, actions, resources, conditionValues };
}

/** IAM's wildcard match: `*` any run, `?` one character, `${*}` `${?}` `${$}` literal. */
export function wildcardMatch(pattern: string, value: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const literal = /^\$\{([*?$])\}/.exec(pattern.slice(i));
    if (literal) {
      source += escapeRegExp(literal[1]!);
      i += literal[0].length - 1;
    } else if (pattern[i] === '*') source += '.*';
    else if (pattern[i] === '?') source += '.';
    else source += escapeRegExp(pattern[i]!);
  }
  return new RegExp(`^${source}$`, 's').test(value);
}

function unescapeLiterals(text: string): string {
  return text.replace(/\$\{([*?$])\}/g, '$1');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function list<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}
