// piston-client ships no types; this is the part of its API the tests use.
declare module 'piston-client' {
  // biome-ignore lint/suspicious/noExplicitAny: the client returns the server's JSON as it is
  type Json = any;
  interface PistonClient {
    runtimes(): Promise<Json>;
    execute(language: string, code: string, config?: Record<string, unknown>): Promise<Json>;
    execute(config: Record<string, unknown>): Promise<Json>;
  }
  export default function piston(options?: { server?: string }): PistonClient;
}
