// Types of bank-model.mjs for the TypeScript tests.
export declare function transferOf(id: number, accounts: number): { from: bigint; to: bigint; amount: bigint };
