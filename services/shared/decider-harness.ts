import { expect } from 'vitest';
import type { DomainEvent } from '#events/index.ts';
import type { Decider } from './command-handler.ts';
import { DomainError } from '#events/errors.ts';

/** What a command does to a stream that holds the given events. */
export interface DeciderOutcome<State, Event> {
  /**
   * Asserts the events the decider emits (`expect.objectContaining` and other
   * matchers welcome) and returns the state they lead to, so a test can look
   * at what the stream has become.
   */
  then(expected: Event[]): State;
  /** Asserts the decider refuses with a `DomainError` of this code, and returns it for its details. */
  thenThrows(code: string): DomainError;
}

export interface GivenEvents<Command, State, Event> {
  when(command: Command): DeciderOutcome<State, Event>;
}

/**
 * The one given/when/then harness for decider unit tests (test support only):
 * `given(created).when(setKey).then([keySet])` or `.thenThrows('VERSION_CONFLICT')`.
 * A stream that starts from something other than `decider.initialState`
 * (a built-in environment) passes that state.
 */
export function deciderSpec<Command, State, Event extends DomainEvent>(
  decider: Decider<Command, State, Event>,
  initialState: State = decider.initialState,
): (...events: Event[]) => GivenEvents<Command, State, Event> {
  return (...events) => ({
    when: (command) => {
      const state = events.reduce(decider.evolve, initialState);
      const decide = () => decider.decide(command, state);
      return {
        // biome-ignore lint/suspicious/noThenProperty: given/when/then is the harness's vocabulary; nothing awaits it.
        then: (expected) => {
          const emitted = decide();
          expect(emitted).toEqual(expected);
          return emitted.reduce(decider.evolve, state);
        },
        thenThrows: (code) => {
          let emitted: Event[];
          try {
            emitted = decide();
          } catch (error) {
            // Anything but a refusal is a bug in the decider: let it fail the test as it is.
            if (!(error instanceof DomainError)) throw error;
            expect(error.code, error.message).toBe(code);
            return error;
          }
          throw new Error(`expected the decider to refuse with ${code}, but it emitted ${JSON.stringify(emitted)}`);
        },
      };
    },
  });
}
