/** Sequential: modules applied in order; children are named '0', '1', ... or by the caller. */
import { SparsennTypeError } from '../../errors.js';
import { Module, type ModuleConfig } from '../module.js';
import type { Tensor } from '../tensor.js';

export class Sequential extends Module {
  private readonly layers: Module[] = [];

  /** `new Sequential(a, b, c)` names them '0', '1', '2'; `new Sequential({ fc1: a, relu: b })` keeps the names. */
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && first !== undefined && !(first instanceof Module)) {
      for (const [name, m] of Object.entries(first)) this.append(m, name);
    } else {
      for (const m of modules as Module[]) this.append(m);
    }
  }

  /** Adds a module at the end (named by its index unless a name is given). */
  append(m: Module, name = String(this.layers.length)): this {
    if (!(m instanceof Module)) throw new SparsennTypeError('ERR_TYPE', `Sequential members must be Modules (member '${name}')`);
    this.registerModule(name, m);
    this.layers.push(m);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module | undefined {
    return this.layers[i];
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h);
    return h;
  }

  config(): ModuleConfig {
    return { type: 'Sequential', layers: this.children().map(([name, m]) => ({ name, module: m.config() })) };
  }
}
