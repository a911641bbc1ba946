// Types app.js names in its JSDoc that JSDoc cannot declare itself (a recursive one).

/** What h() renders as children: nodes, text (numbers too), nested lists; nothing for the rest. */
export type Child = Node | string | number | boolean | null | undefined | readonly Child[];
