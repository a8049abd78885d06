/**
 * Forward hooks: observe what a module receives and returns without changing the model's code.
 * Pruning criteria read calibration activations through them (Wanda's input norms, APoZ), and
 * shape tracing for FLOP counts and channel dependencies uses them.
 *
 * A hook wraps the module instance's forward() (containers call `child.forward`), so it sees
 * every call, whichever container runs the module. Remove hooks when done: the returned
 * function restores the original method.
 */
import { SparsennTypeError } from '../errors.js';
import { Module } from './module.js';
import type { Tensor } from './tensor.js';

export type ForwardHook = (module: Module, inputs: readonly Tensor[], output: Tensor) => void;

const originals = new WeakMap<Module, Module['forward']>();
const hookLists = new WeakMap<Module, ForwardHook[]>();

/** Calls `hook` after every forward() of `module`; returns a function that removes it. */
export function addForwardHook(module: Module, hook: ForwardHook): () => void {
  if (!(module instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'addForwardHook needs a Module');
  if (typeof hook !== 'function') throw new SparsennTypeError('ERR_TYPE', 'addForwardHook needs a hook function');
  let hooks = hookLists.get(module);
  if (!hooks) {
    hooks = [];
    hookLists.set(module, hooks);
    const original = module.forward;
    originals.set(module, original);
    const list = hooks;
    module.forward = function hooked(this: Module, ...inputs: Tensor[]): Tensor {
      const out = original.apply(this, inputs);
      for (const h of [...list]) h(module, inputs, out);
      return out;
    };
  }
  hooks.push(hook);
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    const list = hookLists.get(module)!;
    list.splice(list.indexOf(hook), 1);
    if (list.length === 0) {
      module.forward = originals.get(module)!;
      // the instance's own property shadowed the prototype method: drop it
      if (module.forward === Object.getPrototypeOf(module).forward) delete (module as { forward?: unknown }).forward;
      hookLists.delete(module);
      originals.delete(module);
    }
  };
}

/** Runs `fn` with `hook` on each of `modules`, removing the hooks afterwards (also on throw). */
export function withForwardHooks<T>(modules: Iterable<Module>, hook: ForwardHook, fn: () => T): T {
  const removers = [...modules].map((m) => addForwardHook(m, hook));
  try {
    return fn();
  } finally {
    for (const r of removers) r();
  }
}
