import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { hasOneAttached, AttachedOne } from 'attache';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ contentTypes: ['image/png', 'image/jpeg'] }) declare avatar: AttachedOne;
}
